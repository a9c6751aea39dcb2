"""Multi-view transforms: the affine view-sets, their application to images and pseudo
poses, photometric augmentation, packing and batching."""
import numpy as np
import pytest
import torch
from mmpose.registry import TRANSFORMS

from selfpose3d_mm.datasets import multiview_collate
from selfpose3d_mm.models import MultiViewDataPreprocessor
from selfpose3d_mm.geometry import apply_affine

INPUT = (320, 192)


def _results(cams, with_images=True, people=((2, 3), (1, 0), (3, 1))):
    """A frame: C views; people[c] = (number of pseudo persons, unused)."""
    rng = np.random.default_rng(0)
    C = cams.num_views
    sizes = cams.image_size.numpy()
    kpts, scores = [], []
    for c in range(C):
        n = people[c % len(people)][0]
        k = rng.uniform([0, 0], sizes[c], (n, 15, 2)).astype(np.float32)
        s = rng.uniform(0.2, 1.0, (n, 15)).astype(np.float32)
        s[:, 0] = 0.0  # joint 0 undetected
        kpts.append(k)
        scores.append(s)
    res = dict(cameras=cams, image_sizes=sizes, pseudo_keypoints=kpts,
               pseudo_keypoint_scores=scores, num_keypoints=15, sample_idx=0,
               gt_keypoints_3d=np.zeros((2, 15, 3), np.float32))
    if with_images:
        res['img'] = [rng.integers(0, 255, (int(h), int(w), 3), dtype=np.uint8)
                      for w, h in sizes]
    return res


def test_affine_pair_sets_share_draws_across_views(ring_rig):
    np.random.seed(1)
    t = TRANSFORMS.build(dict(type='MultiViewRandomAffinePair', input_size=INPUT,
                              rot_prob=1.0))
    out = t(_results(ring_rig, with_images=False))
    A = torch.from_numpy(out['affines'])  # (3, C, 2, 3)
    assert A.shape == (3, ring_rig.num_views, 2, 3)
    resize = TRANSFORMS.build(dict(type='MultiViewResize', input_size=INPUT))
    base = resize(_results(ring_rig, with_images=False))['affines'][0]
    assert np.allclose(out['affines'][0], base)  # x⁰ is the plain resize
    rot, zoom = out['aug_params'][1]
    assert -45 <= rot <= 45 and 0.5 < zoom < 1.2
    # the same (rotation, zoom) for all views: the linear parts relative to x⁰ agree
    rel = A[1, :, :, :2] @ torch.linalg.inv(A[0, :, :, :2])
    assert torch.allclose(rel, rel[:1].expand_as(rel), atol=1e-6)
    assert not np.allclose(out['affines'][1], out['affines'][2])


def test_affine_applies_to_keypoints_and_images_consistently(ring_rig):
    np.random.seed(2)
    res = _results(ring_rig)
    # a bright dot at a pseudo keypoint of view 0 must follow that keypoint
    x, y = res['pseudo_keypoints'][0][0, 5].round().astype(int)
    res['pseudo_keypoints'][0][0, 5] = (x, y)
    res['img'][0][:] = 0
    res['img'][0][y - 2:y + 3, x - 2:x + 3] = 255
    res = TRANSFORMS.build(dict(type='MultiViewRandomAffinePair', input_size=INPUT))(res)
    res = TRANSFORMS.build(dict(type='MultiViewAffine'))(res)
    S, C = res['affines'].shape[:2]
    assert res['imgs'].shape == (S, C, INPUT[1], INPUT[0], 3)
    P = max(len(k) for k in _results(ring_rig)['pseudo_keypoints'])
    assert res['pseudo_keypoints'].shape == (S, C, P, 15, 2)
    assert res['pseudo_person_mask'].sum() == sum(
        len(k) for k in _results(ring_rig)['pseudo_keypoints'])
    for s in range(S):
        kp = res['pseudo_keypoints'][s, 0, 0, 5]
        if (kp < 3).any() or (kp > np.array(INPUT) - 4).any():
            continue
        img = res['imgs'][s, 0, ..., 0].astype(float)
        ys, xs = np.nonzero(img)
        w = img[ys, xs]
        centroid = np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])
        assert np.abs(centroid - kp).max() < 0.6
    # matrices agree with the keypoints
    orig = torch.from_numpy(_results(ring_rig)['pseudo_keypoints'][1]).double()
    mapped = apply_affine(orig.reshape(-1, 2), torch.from_numpy(res['affines'][2, 1]))
    n = len(orig)
    assert np.allclose(res['pseudo_keypoints'][2, 1, :n].reshape(-1, 2), mapped.numpy(),
                       atol=1e-2)
    # visibility: score > 0 and inside the input; padded persons never visible
    vis = res['pseudo_keypoints_visible']
    assert not vis[:, :, :, 0].any()
    inside = ((res['pseudo_keypoints'] >= 0) & (res['pseudo_keypoints'] < INPUT)).all(-1)
    assert (vis <= inside).all()
    assert not vis[:, ~res['pseudo_person_mask']].any()


def test_photometric_only_touches_augmented_sets(ring_rig):
    np.random.seed(3)
    res = _results(ring_rig)
    for t in (dict(type='MultiViewRandomAffinePair', input_size=INPUT),
              dict(type='MultiViewAffine')):
        res = TRANSFORMS.build(t)(res)
    before = res['imgs'].copy()
    kp_before = res['pseudo_keypoints'].copy()
    res = TRANSFORMS.build(dict(type='MultiViewRandAugment', prob=1.0))(res)
    res = TRANSFORMS.build(dict(type='MultiViewCutout'))(res)
    assert np.array_equal(res['imgs'][0], before[0])  # x⁰ untouched
    assert not np.array_equal(res['imgs'][1], before[1])
    grey = (res['imgs'][1:] == np.array([125, 122, 113], np.uint8)).all(-1)
    assert grey.sum() >= 2 * 20 * 20  # at least two 20 px squares per view-set
    assert np.array_equal(res['pseudo_keypoints'], kp_before)


def test_pack_collate_and_batch_pad_person_counts(ring_rig):
    samples = []
    for people in (((2, 0), (1, 0)), ((4, 0), (0, 0))):
        res = _results(ring_rig, with_images=False, people=people)
        for t in (dict(type='MultiViewResize', input_size=INPUT), dict(type='MultiViewAffine'),
                  dict(type='PackMultiViewInputs')):
            res = TRANSFORMS.build(t)(res)
        samples.append(res)
    assert samples[0]['inputs'].shape == (1, ring_rig.num_views, 0)  # heatmap-input mode
    ds = samples[0]['data_samples']
    assert ds.affines.shape == (1, ring_rig.num_views, 2, 3)
    assert ds.gt_instances.keypoints_3d.shape == (2, 15, 3)
    collated = multiview_collate(samples)
    assert collated['inputs'].shape == (2, 1, ring_rig.num_views, 0)
    # the data preprocessor pads the person axis once, over the batch
    batch = MultiViewDataPreprocessor()(collated, training=False)['inputs']
    assert batch.pseudo.keypoints.shape == (2, 1, ring_rig.num_views, 4, 15, 3)
    assert batch.pseudo.person_mask.sum(-1).tolist() == [[2, 1, 2, 1, 2], [4, 0, 4, 0, 4]]
    assert not batch.pseudo.visible[0, :, :, 2:].any()  # padding is never visible
    kp = batch.pseudo.keypoints[0, 0, :, :2, :, :2]  # the unpadded part is unchanged
    assert torch.equal(kp, samples[0]['data_samples'].pseudo_keypoints[0, :, :2])


def test_collate_rejects_mixed_inputs(ring_rig):
    a = dict(inputs=torch.zeros(1, 5, 0), data_samples=None)
    b = dict(inputs=torch.zeros(3, 5, 0), data_samples=None)
    with pytest.raises(ValueError, match='input shapes differ'):
        multiview_collate([a, b])
