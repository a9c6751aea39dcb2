"""Randomised rigs of the synthetic world: layout families that see the space, named
layouts, a new rig and space per sequence (held out across splits), the pipeline on any
number of views and aspect ratio, and the default ring world unchanged."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpose.registry import DATASETS

import selfpose3d_mm  # noqa: F401  (registers the dataset and transforms)
from selfpose3d_mm.datasets import multiview_collate
from selfpose3d_mm.datasets.synthetic.layouts import (LAYOUT_FAMILIES, make_layout_rig,
                                                      rig_rng)
from selfpose3d_mm.datasets.synthetic.rig_config import (NAMED_LAYOUTS, build_rig,
                                                         build_rig_world, named_layout)

ROOT = Path(__file__).resolve().parents[2]
CENTER, SIZE = (500.0, -300.0, 800.0), (6000.0, 6000.0, 2000.0)
TEST_PIPELINE = [dict(type='MultiViewResize', input_size=(480, 256)),
                 dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs')]


def _centre_px(cams, center=CENTER):
    """(C, 2) projection of the space centre at 1 m height, and (C,) in-image flags."""
    pt = torch.tensor([[center[0], center[1], 1000.0]])
    uv, valid = cams.project(pt, return_valid=True)
    uv, valid = uv[:, 0], valid[:, 0]
    size = cams.image_size
    return uv, valid & (uv >= 0).all(-1) & (uv < size).all(-1)


def _depression_deg(cams) -> torch.Tensor:
    """Angle of each optical axis below the horizon."""
    return torch.rad2deg(torch.asin(-cams.R[:, 2, 2].double()))


def _random_ds(split='train', **kw):
    cfg = dict(type='SyntheticMultiViewDataset', split=split, seed=1, rig_seed=2,
               num_samples=16, frames_per_sequence=2, rig=dict(type='random'))
    cfg.update(kw)
    return DATASETS.build(cfg)


@pytest.mark.parametrize('family', LAYOUT_FAMILIES)
def test_layouts_have_the_requested_cameras_and_see_the_space(family):
    for seed, n in enumerate((3, 5, 8)):
        cams = make_layout_rig(family, np.random.default_rng(seed), CENTER, SIZE,
                               num_views=n)
        assert cams.num_views == n and len(cams.names) == n
        _, inside = _centre_px(cams)
        assert inside.all(), family
        assert (cams.centers[:, 2] > 0).all()  # above the floor
    # a range draws the count; no camera may be left blind: a hopeless lens raises
    counts = {make_layout_rig(family, np.random.default_rng(s), CENTER, SIZE,
                              num_views=(3, 4)).num_views for s in range(6)}
    assert counts <= {3, 4} and len(counts) == 2
    with pytest.raises(ValueError, match='found no pose that sees the capture space'):
        make_layout_rig(family, np.random.default_rng(0), CENTER, SIZE, num_views=3,
                        hfov_deg=(3.0, 4.0), max_attempts=5)
    with pytest.raises(ValueError, match='unknown knob'):
        make_layout_rig(family, np.random.default_rng(0), CENTER, SIZE, lens='fisheye')


def test_lenses_and_sensors_vary_between_rigs():
    rigs = [make_layout_rig('ring', np.random.default_rng(s), CENTER, SIZE) for s in range(30)]
    sizes = {tuple(int(v) for v in r.image_size[0].tolist()) for r in rigs}
    assert len(sizes) >= 4 and len({round(w / h, 2) for w, h in sizes}) >= 3
    hfov = torch.cat([2 * torch.atan(r.image_size[:, 0] / 2 / r.K[:, 0, 0]) for r in rigs])
    assert math.degrees(hfov.min()) < 55 and math.degrees(hfov.max()) > 85
    k1 = torch.cat([r.dist[:, 0] for r in rigs])
    assert (k1 == 0).any() and (k1 < -0.2).any()  # rectified rigs and strong barrels
    pp = torch.cat([r.K[:, :2, 2] / r.image_size - 0.5 for r in rigs])
    assert pp.abs().max() <= 0.02 + 1e-6 and pp.abs().max() > 0.005


def test_ceiling_cameras_are_higher_and_look_down_more_steeply_than_a_ring():
    ring = [make_layout_rig('ring', np.random.default_rng(s), CENTER, SIZE) for s in range(8)]
    ceil = [make_layout_rig('ceiling', np.random.default_rng(s), CENTER, SIZE)
            for s in range(8)]
    h_ring = torch.cat([r.centers[:, 2] for r in ring])
    h_ceil = torch.cat([r.centers[:, 2] for r in ceil])
    assert h_ceil.min() >= 2600 and h_ceil.max() <= 4000 and h_ceil.mean() > h_ring.mean()
    d_ring = torch.cat([_depression_deg(r) for r in ring])
    d_ceil = torch.cat([_depression_deg(r) for r in ceil])
    assert d_ceil.min() >= 30 - 1e-6 and d_ceil.mean() > d_ring.mean() + 25
    assert (d_ceil > 70).any()  # some look almost straight down


def test_half_ring_and_corner_cameras_stay_on_one_side():
    c = np.array(CENTER[:2])
    for s in range(6):
        half = make_layout_rig('half_ring', np.random.default_rng(s), CENTER, SIZE)
        az = np.sort(np.arctan2(*(half.centers[:, :2].numpy() - c).T[::-1]))
        gaps = np.diff(np.concatenate([az, az[:1] + 2 * np.pi]))
        assert 2 * np.pi - gaps.max() <= math.radians(200 + 2 * 8) + 1e-6  # the arc
        corner = make_layout_rig('corner', np.random.default_rng(s), CENTER, SIZE)
        xy = corner.centers[:, :2].numpy() - c
        assert any((sign * xy[:, axis] > 0).all() for axis in (0, 1) for sign in (-1, 1))
        assert (np.abs(xy) > np.array(SIZE[:2]) / 2).any(-1).all()  # outside the space


def test_named_layouts_are_fixed_rigs_with_their_space():
    for name, spec in NAMED_LAYOUTS.items():
        a, b = named_layout(name, seed=3), named_layout(name, seed=3)
        assert a.cameras.cache_key() == b.cameras.cache_key()
        assert named_layout(name, seed=4).cameras.cache_key() != a.cameras.cache_key()
        assert a.space_center == spec['space_center'] and a.space_size == spec['space_size']
        assert a.cameras.names[0] == f'{name}_00'
        _, inside = _centre_px(a.cameras, a.space_center)
        assert inside.all()
    studio, outdoor, dome = (named_layout(n, 0) for n in ('studio_ring5', 'outdoor3', 'dome8'))
    assert studio.cameras.num_views == 5 and studio.space_size[:2] == (6000.0, 6000.0)
    assert (studio.cameras.image_size == torch.tensor([1920.0, 1080.0])).all()
    o = outdoor.cameras
    assert o.num_views == 3 and outdoor.space_size[:2] == (10000.0, 10000.0)
    dist = torch.linalg.norm(o.centers[:, :2], dim=-1)
    assert ((dist >= 8000) & (dist <= 15000)).all()
    assert ((o.centers[:, 2] >= 1500) & (o.centers[:, 2] <= 2500)).all()
    assert {tuple(v) for v in o.image_size.tolist()} <= {(1280.0, 720.0), (3840.0, 2160.0)}
    d = dome.cameras
    assert d.num_views == 8 and dome.space_size[:2] == (8000.0, 8000.0)
    assert (d.image_size == torch.tensor([2048.0, 1536.0])).all()
    low, high = (d.centers[:, 2] < 2500).sum(), (d.centers[:, 2] > 3000).sum()
    assert low == 4 and high == 4
    # build_rig / build_rig_world and the dataset give the same rig and space
    via_build = build_rig(dict(type='layout', name='dome8'), rig_rng(0), CENTER, SIZE)
    assert via_build.cache_key() == d.cache_key()
    ds = DATASETS.build(dict(type='SyntheticMultiViewDataset', split='test', num_samples=2,
                             rig=dict(type='layout', name='dome8'), rig_seed=0))
    assert ds.cameras.cache_key() == d.cache_key() and ds.space_size == dome.space_size
    info = ds.get_data_info(0)
    assert info['space_size'] == dome.space_size and info['rig_layout'] == 'dome8'
    # a rig dict's own space wins over the layout's
    own = build_rig_world(dict(type='layout', name='dome8', space_size=(5000, 5000, 2000)),
                          rig_rng(0), CENTER, SIZE)
    assert own.space_size == (5000.0, 5000.0, 2000.0)


def test_build_rig_layout_family_and_bad_configs():
    cams = build_rig(dict(type='layout', layout='corner', num_views=4),
                     np.random.default_rng(0), CENTER, SIZE)
    assert cams.num_views == 4 and cams.names[0] == 'corner_00'
    with pytest.raises(ValueError, match='exactly one of'):
        build_rig(dict(type='layout'), np.random.default_rng(0), CENTER, SIZE)
    with pytest.raises(ValueError, match='unknown layout family'):
        build_rig(dict(type='layout', layout='dome8'), np.random.default_rng(0), CENTER, SIZE)
    with pytest.raises(ValueError, match='per sequence'):
        build_rig(dict(type='random'), np.random.default_rng(0), CENTER, SIZE)
    with pytest.raises(ValueError, match='unknown knob'):
        _random_ds(rig=dict(type='random', knobs=dict(radius_scale=(1, 2))))  # not corner's
    with pytest.raises(ValueError, match='unknown knob'):
        _random_ds(rig=dict(type='random', colour='red'))


def test_random_rigs_differ_per_sequence_and_split_and_are_deterministic():
    ds = _random_ds(num_samples=20)
    assert ds.cameras is None
    infos = [ds.frame_info(i) for i in range(20)]  # 10 sequences of 2 frames
    ids = [i['rig_id'] for i in infos]
    assert ids[0::2] == ids[1::2]  # frames of a sequence share the rig ...
    assert infos[0]['space_size'] == infos[1]['space_size']
    assert len(set(ids[0::2])) == 10  # ... sequences do not
    spaces = {i['space_size'] for i in infos}
    assert len(spaces) == 10 and all(3000 <= s[0] <= 10000 and 3000 <= s[1] <= 10000
                                     and s[2] == 2000 for s in spaces)
    assert len({i['cameras'].num_views for i in infos}) > 2
    assert len({i['rig_layout'] for i in infos}) > 2
    for info in infos:  # distinct rigs, distinct ids: the id is the content hash
        assert info['rig_id'].endswith(info['cameras'].cache_key()[:16])
    again = _random_ds(num_samples=20).frame_info(13)
    for key in ('rig_id', 'space_center', 'space_size'):
        assert again[key] == infos[13][key]
    assert np.array_equal(again['gt_keypoints_3d'], infos[13]['gt_keypoints_3d'])
    for a, b in zip(again['pseudo_keypoints'], infos[13]['pseudo_keypoints']):
        assert np.array_equal(a, b)
    test_ids = {_random_ds('test', num_samples=20).frame_info(i)['rig_id']
                for i in range(0, 20, 2)}
    assert not test_ids & set(ids)  # held-out rigs


def test_gt_is_inside_the_samples_own_space_and_the_cache_is_bounded():
    ds = _random_ds(num_samples=70, frames_per_sequence=1, outside_prob=1.0)
    outside_seen = 0
    for i in range(70):
        info = ds.frame_info(i)
        c, half = np.array(info['space_center']), np.array(info['space_size']) / 2
        assert (np.abs(info['gt_keypoints_3d'][:, 2] - c) <= half).all()
        roots = info['all_keypoints_3d'][:, 2]
        outside_seen += int((~(np.abs(roots - c) <= half).all(-1)).sum())
        assert len(info['gt_keypoints_3d']) == int((np.abs(roots - c) <= half).all(-1).sum())
        assert all(np.isfinite(k).all() for k in info['pseudo_keypoints'])
        assert all(np.isfinite(k).all() for k in info['pseudo_keypoint_scores'])
    assert outside_seen > 0
    assert len(ds._sequences) <= 64  # the rigs leave with their sequence ...
    assert not ds.__dict__.get('_rig_ids')  # ... and the base class' memo keeps none


# the *foreign* rig puts some joints behind its cameras (~1e10 px): this test's own norms
# of those overflow (the dataset's occlusion test clips them)
@pytest.mark.filterwarnings('ignore:overflow encountered:RuntimeWarning')
def test_pseudo_poses_are_projections_through_the_samples_own_cameras():
    ds = _random_ds(num_samples=24, frames_per_sequence=3)
    own, other = [], []
    for i in range(0, 24, 3):
        info = ds.get_data_info(i)
        foreign = ds.get_data_info((i + 3) % 24)['cameras']
        allp = torch.from_numpy(info['all_keypoints_3d']).reshape(-1, 3)
        P = len(info['all_keypoints_3d'])
        for cams, errs in ((info['cameras'], own), (foreign, other)):
            uv = cams.project(allp).numpy().reshape(cams.num_views, P, 15, 2)
            for c in range(min(cams.num_views, info['cameras'].num_views)):
                for k, src, s in zip(info['pseudo_keypoints'][c], info['pseudo_source'][c],
                                     info['pseudo_keypoint_scores'][c]):
                    if src < 0 or (s > 0.5).sum() < 4:
                        continue
                    good = s > 0.5
                    ref = uv[c, src][good]
                    height = np.ptp(ref[:, 1]) + 1e-6  # apparent height, px
                    errs.append(np.median(np.linalg.norm(k[good] - ref, axis=-1)) / height)
    assert len(own) > 20
    assert np.median(own) < 0.05  # the realistic detector's error, any image size
    assert np.median(other) > 0.5


def test_the_realistic_detector_scales_with_the_image():
    """The same rig at 640x480 and 2560x1920 (one draw, four times the pixels): the same
    detections, scores and errors in units of the person's height, 4x the pixels."""
    def world(size):
        return DATASETS.build(dict(
            type='SyntheticMultiViewDataset', split='val', num_samples=4,
            frames_per_sequence=2, rig=dict(type='layout', layout='ring', num_views=4,
                                            image_sizes=(size, ), image_size_weights=None,
                                            mixed_sizes_prob=0.0)))
    small, big = world((640, 480)), world((2560, 1920))
    assert small.pseudo2d['profile'] == 'realistic'
    for i in range(4):
        a, b = small.get_data_info(i), big.get_data_info(i)
        for ka, kb, sa, sb in zip(a['pseudo_keypoints'], b['pseudo_keypoints'],
                                  a['pseudo_keypoint_scores'], b['pseudo_keypoint_scores']):
            assert ka.shape == kb.shape and np.array_equal(sa, sb)
            assert np.abs(kb / 4 - ka).max(initial=0) <= 1.0  # px (border clamps: W - 1)


@pytest.mark.parametrize('views,size', [(3, None), (8, None), (4, (1080, 1920))])
def test_test_pipeline_on_any_rig(views, size):
    knobs = dict(image_sizes=(size, ), image_size_weights=None) if size else None
    ds = _random_ds('test', num_samples=2, num_people=(3, 3), pipeline=TEST_PIPELINE,
                    rig=dict(type='random', num_views=(views, views), knobs=knobs))
    out = ds[0]
    sample = out['data_samples']
    assert sample.affines.shape == (1, views, 2, 3)
    assert sample.cameras.num_views == views
    assert sample.metainfo['space_size'] == ds.frame_info(0)['space_size']
    kp, vis = sample.pseudo_keypoints[0], sample.pseudo_keypoints_visible[0]
    assert kp.shape[:1] == (views, ) and vis.any()
    if size:  # a portrait 1080x1920 letterboxed into 480x256: a centred 144 px column
        assert (kp[vis][:, 0] >= 168 - 1).all() and (kp[vis][:, 0] <= 312 + 1).all()
        assert kp[vis][:, 0].max() - kp[vis][:, 0].min() > 5
    batch = multiview_collate([out])
    assert batch['inputs'].shape[:2] == (1, 1)


def test_base_config_of_the_randomised_world():
    cfg = Config.fromfile(str(ROOT / 'configs' / '_base_' / 'datasets' / 'synthetic_rigs.py'))
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        assert loader.batch_size == 1 and loader.dataset.rig.type == 'random'
    ds_cfg = dict(cfg.train_dataloader.dataset, num_samples=2)
    sample = DATASETS.build(ds_cfg)[1]['data_samples']
    assert sample.affines.shape[0] == 3  # x0 + two random affine view-sets
    assert not hasattr(sample, 'gt_instances')
    for name, world in cfg.named_layout_worlds.items():
        ds = DATASETS.build(dict(world, split='test', num_samples=1))
        assert ds.space_size == NAMED_LAYOUTS[name]['space_size']


def test_default_ring_world_unchanged():
    """Numbers of the default world computed before the randomised rigs existed."""
    ds = DATASETS.build(dict(type='SyntheticMultiViewDataset', split='val', seed=3,
                             num_samples=40, frames_per_sequence=10))
    info = ds.frame_info(13)
    cams = info['cameras']
    assert info['rig_id'] == 'SyntheticMultiViewDataset:f57d3cb48ca50191'
    assert cams.cache_key() == 'f57d3cb48ca501919686954761fed58f506cdae4'
    np.testing.assert_allclose(cams.K[:, 0, 0].numpy(), [
        1565.97998046875, 1515.320068359375, 1540.09326171875, 1359.857666015625,
        1561.95849609375], rtol=1e-6)
    np.testing.assert_allclose(cams.centers[0].numpy(), [
        1125.10400390625, -6127.8046875, 2149.878662109375], rtol=1e-5)
    np.testing.assert_allclose(info['gt_keypoints_3d'][:, 2], [
        [-772.1629028320312, 939.4048461914062, 872.0485229492188],
        [-471.15087890625, -1000.6871337890625, 927.0474243164062],
        [1469.7562255859375, -964.021240234375, 826.5795288085938],
        [578.0639038085938, -388.5272521972656, 763.5784912109375]], rtol=1e-5)
    assert info['space_center'] == (0.0, 0.0, 800.0)
    assert info['space_size'] == (6000.0, 6000.0, 2000.0)
    assert ds.cameras is not None and ds.rig_id(ds.cameras) == info['rig_id']
