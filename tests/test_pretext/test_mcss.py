"""MCSS (Mitra et al.): the hardest-negative margin loss and its beta rule, the embedder
(ResNet-18 with BatchNorm affine off, unit embeddings, canonical-pose head, person crops
of a frame), the anchor/positive dataset and its one-sequence batch sampler, overfitting
a tiny set (retrieval improves), a few iterations through mmengine's Runner on the
config, and on the real Pose2Sim videos."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import BaseDataElement
from mmpose.registry import MODELS

from selfpose3d_mm.datasets.pretext.mcss_batches import MCSSBatchSampler, MCSSPairDataset
from selfpose3d_mm.datasets.pretext.people import crop_square, square_box
from selfpose3d_mm.evaluation.functional.retrieval import cross_view_retrieval
from selfpose3d_mm.geometry.canonical_pose import canonicalize_poses
from selfpose3d_mm.io.predictions import save_predictions_json
from selfpose3d_mm.models.losses.contrastive import (MCSSContrastiveLoss, allowed_negatives,
                                                     hardest_negative_loss)
from selfpose3d_mm.models.pretext.mcss import MCSSEmbedder, square_crop_grids
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
FIX = FIXTURES / 'pose2sim'
WORLD = dict(type='SyntheticMultiViewDataset', num_samples=12, frames_per_sequence=12,
             frame_interval=15, num_people=(2, 2), outside_prob=0.0,
             space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0),
             rig=dict(type='ring', num_views=3, image_size=(240, 136)), with_images=True,
             pipeline=[])
TINY = dict(type='MCSSEmbedder', backbone=dict(base_channels=8), canonical_head=dict())


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmpose')


def _unit(x):
    x = torch.as_tensor(x, dtype=torch.float64)
    return x / x.norm(dim=-1, keepdim=True)


# ------------------------------------------------------------------------------ the loss
def test_loss_is_zero_beyond_the_margin_and_positive_otherwise():
    a = _unit([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    loss = MCSSContrastiveLoss(margin=0.6, beta=0.0)
    # positives equal to their anchors, negatives sqrt(2) away: 0 + 0.6 < 1.414
    assert float(loss(a, a.clone())) == 0.0
    # positives 0.5 away, negatives ~1.1-1.4 away: still beyond the margin
    p = _unit([[1.0, 0.26, 0.0], [0.0, 1.0, 0.26], [0.26, 0.0, 1.0]])
    per, d_pos, d_neg, has = hardest_negative_loss(a, p, allowed_negatives(3), 0.6)
    assert (d_pos + 0.6 < d_neg).all() and float(per.sum()) == 0.0
    # a positive far away: loss = margin + d_pos - d_neg for that pair only
    p2 = p.clone()
    p2[0] = _unit([[0.0, 0.0, 1.0]])[0]  # pair 0's positive sits on pair 2's anchor
    per, d_pos, d_neg, has = hardest_negative_loss(a, p2, allowed_negatives(3), 0.6)
    assert per[0] > 0 and has.all()
    assert float(per[0]) == pytest.approx(0.6 + float(d_pos[0]) - float(d_neg[0]))
    assert float(d_neg[0]) < 1e-5  # hardest: a_2, where pair 0's positive landed
    assert float(per[1]) == 0.0 and float(per[2]) > 0  # pair 2 now has p_0 on its anchor
    total = MCSSContrastiveLoss(margin=0.6, beta=0.0)(a, p2)
    assert float(total) == pytest.approx(float(per.sum()) / 3)
    a.requires_grad_()
    MCSSContrastiveLoss(beta=0.0)(a, p2).backward()
    assert torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
    # the decoupled form: d_pos² + max(0, margin - d_neg)², zero only for exact positives
    c = MCSSContrastiveLoss(beta=0.0, form='contrastive')
    assert float(c(a.detach(), a.detach().clone())) == pytest.approx(0.0, abs=1e-9)
    per, d_pos, d_neg, _ = c.pair_terms(a.detach(), p)
    assert torch.allclose(per, d_pos ** 2)  # negatives beyond the margin: no push
    with pytest.raises(ValueError, match='form'):
        MCSSContrastiveLoss(form='hinge')


def test_beta_excludes_near_identical_poses_from_the_negatives():
    rng = np.random.default_rng(0)
    pose = torch.from_numpy(rng.normal(scale=0.3, size=(15, 3)))
    other = torch.from_numpy(rng.normal(scale=0.3, size=(15, 3)))
    poses = torch.stack([pose, pose + 0.001, other])  # pairs 0 and 1: the same pose
    loss = MCSSContrastiveLoss(margin=0.6, beta=0.3)
    d = loss.pose_distance(poses)
    ok = allowed_negatives(3, d, 0.3)
    assert not ok[0, 1] and not ok[1, 0] and ok[0, 2] and ok[2, 1] and not ok.diagonal().any()
    a = _unit([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0]])  # 0 and 1 embed alike (same pose)
    per, _, d_neg, has = loss.pair_terms(a, a.clone(), poses=poses)
    assert has.all() and float(per.sum()) == 0.0  # 1 is not pushed away from 0
    assert float(d_neg[0]) == pytest.approx(float((a[0] - a[2]).norm()))
    per_all, *_ = MCSSContrastiveLoss(beta=0.0).pair_terms(a, a.clone(), poses=poses)
    assert float(per_all[0]) > 0.5  # without the rule, 1 is 0's hardest negative
    # identities: the same person-instant twice is never a negative; a pair alone has
    # no negative and contributes nothing
    ok = allowed_negatives(3, identity=torch.tensor([4, 4, 7]))
    assert not ok[0, 1] and ok[0, 2]
    only = loss.pair_terms(a[:2], a[:2].clone(), poses=poses[:2])
    assert not only[3].any() and float(loss(a[:2], a[:2].clone(), poses=poses[:2])) == 0.0
    unknown = torch.full((3, 15, 3), float('nan'))  # no pseudo-3D: never excluded
    assert allowed_negatives(3, loss.pose_distance(unknown), 0.3).sum() == 6


# ------------------------------------------------------------------------------ the model
def test_embedder_bn_affine_off_unit_embeddings_and_head():
    model = MODELS.build(dict(type='MCSSEmbedder', canonical_head=dict()))
    bns = [m for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.affine for m in bns)
    assert isinstance(model.embedding_norm, torch.nn.BatchNorm1d)
    assert not model.embedding_norm.affine
    assert not any('bn' in k and k.endswith(('weight', 'bias'))
                   for k in model.backbone.state_dict())
    model.init_weights()
    x = torch.randn(3, 2, 3, 64, 64)
    emb = model(x, mode='tensor')
    assert emb.shape == (3, 2, 128)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3, 2))
    samples = [BaseDataElement(metainfo=dict(sequence='s', frame=i, person=0, views=(0, 1)),
                               canonical_pose=torch.randn(15, 3)) for i in range(3)]
    losses = model(x, samples, mode='loss')
    assert {'loss_mcss', 'loss_canonical', 'mcss_d_pos', 'mcss_d_neg',
            'mcss_neg_frac'} <= set(losses)
    (losses['loss_mcss'] + losses['loss_canonical']).backward()
    assert model.head[0].weight.grad is not None and model.fc.weight.grad is not None
    model.eval()
    out = model(x[:, :1], samples, mode='predict')
    assert out[0].pred_embedding.shape == (1, 128)
    assert out[0].pred_canonical_pose.shape == (1, 15, 3)
    with pytest.raises(ValueError, match='V = 2'):
        model(x[:, :1], samples, mode='loss')
    # transfer: the backbone loads into an affine-BN ResNet (missing: only BN affines)
    resnet = MODELS.build(dict(type='ResNet', depth=18))
    res = resnet.load_state_dict(model.backbone.state_dict(), strict=False)
    assert not res.unexpected_keys
    assert res.missing_keys and all(k.split('.')[-1] in ('weight', 'bias') and
                                    ('bn' in k or 'downsample.1' in k) for k in res.missing_keys)


def test_person_crops_follow_the_square_box_rule():
    yy, xx = np.mgrid[0:120, 0:160]
    img = np.stack([xx * 1.5, yy * 2.0, xx + yy], -1).astype(np.uint8)  # smooth ramps
    kp = np.array([[30.0, 20.0], [70.0, 90.0], [50.0, 60.0]])
    cx, cy, side = square_box(np.r_[kp.min(0), kp.max(0)], 0.25)
    ref = crop_square(img, (cx, cy), side, 88).astype(np.float64)  # bilinear, ~1:1
    grid, valid = square_crop_grids(torch.tensor(kp)[None], torch.ones(1, 3), (160, 120), 88)
    im = torch.tensor(img).permute(2, 0, 1)[None].double()
    got = torch.nn.functional.grid_sample(im, grid, align_corners=False)[0].permute(1, 2, 0)
    assert valid.all() and np.abs(got.numpy() - ref).max() <= 0.51  # uint8 rounding
    model = MCSSEmbedder(backbone=dict(base_channels=8)).eval()
    images = torch.randn(2, 3, 120, 160)
    kps = torch.tensor(kp, dtype=torch.float32).expand(2, 3, 3, 2).clone()
    scores = torch.ones(2, 3, 3)
    scores[1, 2, 1:] = 0  # one confident joint only: no crop
    mask = torch.tensor([[True, True, False], [True, True, True]])
    emb = model.embed_people(images, kps, scores, mask, crop_size=32)
    assert emb.shape == (2, 3, 128)
    assert (emb[0, 2] == 0).all() and (emb[1, 2] == 0).all()
    torch.testing.assert_close(emb[0, 0].norm(), torch.tensor(1.0))


# ------------------------------------------------------------------------------ the data
def test_pairs_views_and_the_pose_sources(tmp_path):
    pairs = MCSSPairDataset(WORLD, crop_size=32, mode='pairs')
    item = pairs[(0, 3)]
    s = item['data_samples']
    assert item['inputs'].shape == (2, 3, 32, 32) and item['inputs'].dtype == torch.uint8
    assert len(set(s.views)) == 2
    info = pairs.get_data_info(0)
    assert set(s.views) <= set(info['views'])
    torch.testing.assert_close(s.canonical_pose, canonicalize_poses(
        s.keypoints_3d.double(), scale=1e-3).float())
    assert 'gt_keypoints_3d' not in s  # training never carries GT
    views = MCSSPairDataset(WORLD, crop_size=32, mode='views', test_mode=True)
    assert len(views) == sum(len(d['views']) for d in pairs.data_list)
    v = views[0]['data_samples']
    assert views[0]['inputs'].shape == (1, 3, 32, 32) and len(v.views) == 1
    assert np.isfinite(v.gt_keypoints_3d.numpy()).all()  # matched GT, evaluation only
    # the predictions file of the same frames gives the same people
    src = pairs.clips.dataset
    frames = []
    for f in range(len(src)):
        X = np.stack([d['keypoints_3d'] for d in pairs.data_list if d['frame'] == f] or
                     [np.zeros((0, 15, 3), np.float32)])
        frames.append(dict(frame_id=src.get_data_info(f)['frame_id'], keypoints_3d=X,
                           scores=np.ones(len(X)), root_centers=X[:, 2]))
    path = str(tmp_path / 'poses3d.json')
    save_predictions_json(path, dict(skeleton=dict(name='panoptic15', joints=[
        str(j) for j in range(15)], links=[])), frames)
    pred = MCSSPairDataset(WORLD, crop_size=32, poses=dict(type='predictions', path=path))
    assert len(pred) == len(pairs)
    np.testing.assert_allclose(pred.get_data_info(1)['keypoints_3d'],
                               pairs.get_data_info(1)['keypoints_3d'], atol=0.06)
    with pytest.raises(ValueError, match='poses.type'):
        MCSSPairDataset(WORLD, poses=dict(type='gt'))


def test_batches_come_from_one_sequence_without_close_instants():
    world = dict(WORLD, num_samples=24, frames_per_sequence=12, frame_interval=5)
    ds = MCSSPairDataset(world, crop_size=32, lazy_init=False)
    sampler = DefaultSampler(ds, shuffle=True, seed=3)
    bs = MCSSBatchSampler(sampler, batch_size=4, min_frame_gap=12)
    keys = ds.item_keys()
    assert len(bs) == len(ds) // 4
    first = list(bs)
    for batch in first:
        idx = [i for i, _ in batch]
        assert len(set(keys[idx, 0])) == 1  # one sequence
        t = keys[idx, 1]
        dt = np.abs(t[:, None] - t[None])
        assert ((dt == 0) | (dt >= 12)).all()
    assert first == list(bs)  # a pure function of (seed, epoch)
    sampler.set_epoch(1)
    assert first != list(bs)
    strict = MCSSBatchSampler(sampler, batch_size=4, min_frame_gap=12, same_instant=False)
    for batch in strict:
        t = keys[[i for i, _ in batch], 1]
        assert len(set(t.tolist())) == len(t)
    with pytest.raises(ValueError, match='batch_size'):
        MCSSBatchSampler(sampler, batch_size=1)


# ------------------------------------------------------------------------------ learning
def test_the_embedding_overfits_a_tiny_set():
    torch.manual_seed(0)
    train = MCSSPairDataset(WORLD, crop_size=32, mode='pairs')
    views = MCSSPairDataset(WORLD, crop_size=32, mode='views')
    model = MODELS.build(TINY)
    model.init_weights()
    ev = model.data_preprocessor(pseudo_collate([views[i] for i in range(len(views))]))

    def score():
        model.eval()
        out = model.predict(ev['inputs'], ev['data_samples'])
        model.train()
        emb = torch.cat([s.pred_embedding for s in out]).numpy()
        poses = np.stack([s.keypoints_3d.numpy() for s in out])
        return cross_view_retrieval(emb, poses, [s.views[0] for s in out], ks=(1,),
                                    oracle=False)['mean_pa_mpjpe@1']

    before = score()
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = None
    for it in range(60):
        idx = np.random.default_rng(it).choice(len(train), 8, replace=False)
        data = model.data_preprocessor(pseudo_collate([train[(int(i), it)] for i in idx]),
                                       True)
        losses = model(**data, mode='loss')
        opt.zero_grad()
        (losses['loss_mcss'] + losses['loss_canonical']).backward()
        opt.step()
        first = float(losses['mcss_d_pos']) if first is None else first
    after = score()
    assert after < 0.8 * before, (before, after)
    assert float(losses['mcss_d_pos']) < first


def _tiny_cfg(work_dir):
    cfg = Config.fromfile(str(ROOT / 'configs' / 'pretext' / 'mcss_synthetic.py'))
    world = dict(num_samples=24, frames_per_sequence=12,
                 rig=dict(type='ring', num_views=3, image_size=(240, 136)))
    for dl in (cfg.train_dataloader, cfg.val_dataloader):
        dl.dataset.dataset.update(world)
        dl.update(num_workers=0, persistent_workers=False)
        dl.dataset.crop_size = 32
    cfg.val_dataloader.dataset.dataset.num_samples = 6
    cfg.train_dataloader.batch_size = 4
    cfg.train_dataloader.batch_sampler.min_frame_gap = 12
    cfg.model.backbone.update(base_channels=8)
    cfg.train_cfg = dict(by_epoch=False, max_iters=4, val_interval=2)
    cfg.param_scheduler = None
    cfg.default_hooks.checkpoint.interval = 2
    cfg.update(work_dir=str(work_dir), log_level='WARNING', test_dataloader=None,
               test_cfg=None, test_evaluator=None)
    return cfg


def test_runner_trains_and_validates_the_config(tmp_path):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(_tiny_cfg(tmp_path))
    runner.train()
    scalars = runner.message_hub.log_scalars
    assert np.isfinite(scalars['train/loss_mcss'].current())
    assert np.isfinite(scalars['train/loss_canonical'].current())
    at1 = scalars['val/retrieval/mean_pa_mpjpe@1'].current()
    assert scalars['val/retrieval/oracle_pa_mpjpe@1'].current() <= at1 + 1e-9
    assert (tmp_path / 'iter_4.pth').exists()


# ------------------------------------------------------------------------------ real data
@pytest.mark.skipif(not (FIX / 'multiperson_videos').is_dir() or
                    not (FIX / 'multiperson_openpose').is_dir(),
                    reason='Pose2Sim fixture absent')
def test_a_few_iterations_on_the_real_pose2sim_videos(tmp_path):
    """The videos of Pose2Sim's two-person demo; pseudo-3D from the triangulation of the
    OpenPose files of the same trial (its real participant; the second person of the
    JSON is a composited avatar absent from the videos, triangulated all the same)."""
    from mmengine.runner import Runner

    from selfpose3d_mm.io import save_pseudo_labels
    from selfpose3d_mm.io.keypoints2d.importer import import_2d
    op = FIX / 'multiperson_openpose'
    labels, _ = import_2d({f'cam_0{i}': str(op / 'pose' / f'cam0{i}_json')
                           for i in range(1, 5)}, 'openpose')
    save_pseudo_labels(str(tmp_path / 'labels.json'), labels)
    rig = dict(type='CustomRigDataset', calibration=str(op / 'calibration' / 'Calib.qca.txt'),
               pseudo_labels=str(tmp_path / 'labels.json'),
               videos={f'cam_0{i}': str(FIX / 'multiperson_videos' / 'videos' / f'cam0{i}.mp4')
                       for i in range(1, 5)},
               frame_range=(0, 24), interval=3, space_center=(0.0, 0.0, 800.0),
               space_size=(8000.0, 8000.0, 2000.0), pipeline=[])
    cfg = _tiny_cfg(tmp_path)
    pairs = dict(type='MCSSPairDataset', poses=dict(type='triangulation'), crop_size=32,
                 clips=dict(frame_scale=0.25), dataset=rig)
    cfg.train_dataloader.dataset = dict(pairs, mode='pairs')
    cfg.train_dataloader.batch_sampler.min_frame_gap = 6
    cfg.val_dataloader.dataset = dict(pairs, mode='views', dataset=dict(rig, frame_range=(0, 4)))
    cfg.val_evaluator = dict(type='CrossViewRetrievalMetric', pose_field='keypoints_3d')
    cfg.train_cfg = dict(by_epoch=False, max_iters=2, val_interval=2)
    runner = Runner.from_cfg(cfg)
    ds = runner.train_dataloader.dataset
    assert len(ds) >= 6 and {len(d['views']) for d in ds.data_list} <= {2, 3, 4}
    runner.train()
    scalars = runner.message_hub.log_scalars
    assert np.isfinite(scalars['train/loss_mcss'].current())
    assert scalars['val/retrieval/num_queries'].current() > 0
