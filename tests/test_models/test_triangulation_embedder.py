"""The triangulation baseline with a pose embedder (MCSS) in its association step: the
embeddings are computed from the frame's images and reach the grouping; with a gate that
forbids nothing the result is the epipolar grouping's."""
import torch
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

from selfpose3d_mm.datasets import multiview_collate

WORLD = dict(type='SyntheticMultiViewDataset', split='test', seed=0, num_samples=2,
             num_people=(2, 2), outside_prob=0.0, with_images=True, test_mode=True,
             rig=dict(type='ring', num_views=3, image_size=(480, 270)),
             pipeline=[dict(type='MultiViewResize', input_size=(480, 256)),
                       dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs')])
EMBEDDER = dict(type='MCSSEmbedder', backbone=dict(type='ResNet', depth=18),
                embedding_dim=16)


def _predict(model, data):
    with torch.no_grad():
        return [s.pred_instances for s in model.test_step(data)]


def test_embeddings_reach_the_association_and_an_open_gate_changes_nothing():
    init_default_scope('mmpose')
    torch.manual_seed(0)
    ds = DATASETS.build(WORLD)
    data = multiview_collate([ds[0], ds[1]])
    base = MODELS.build(dict(type='TriangulationBaseline'))
    open_gate = MODELS.build(dict(
        type='TriangulationBaseline', embedder=EMBEDDER, embedding_crop=dict(crop_size=32),
        triangulation=dict(embedding_association=dict(mode='gate',
                                                      embedding_threshold=2.1))))
    batch = open_gate.data_preprocessor(data, False)['inputs']
    emb = open_gate.embeddings(batch, 0)
    assert emb.shape[:2] == batch.pseudo.person_mask[0].shape and emb.shape[-1] == 16
    for a, b in zip(_predict(base, data), _predict(open_gate, data)):
        assert len(a.scores) == len(b.scores) >= 1
        assert torch.allclose(a.keypoints_3d, b.keypoints_3d, atol=1e-3)
    # a gate no pair passes: nobody is associated, nobody is triangulated
    closed = MODELS.build(dict(
        type='TriangulationBaseline', embedder=EMBEDDER, embedding_crop=dict(crop_size=32),
        triangulation=dict(embedding_association=dict(mode='gate',
                                                      embedding_threshold=1e-9))))
    assert all(len(p.scores) == 0 for p in _predict(closed, data))
