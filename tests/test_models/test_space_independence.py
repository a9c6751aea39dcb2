"""The root net on any capture space at its trained voxel size (``root_head.space_from``).

Frames are built by hand (a fixed pinhole ring, people at known roots, perfect 2D poses)
and go through the model's data preprocessor, so nothing here depends on the synthetic
world's rig or sampling.
"""
import math

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData
from mmpose.registry import MODELS

from selfpose3d_mm.geometry import MultiViewCameras, RootGridCache
from selfpose3d_mm.models.heads.root_head import check_fully_convolutional
from selfpose3d_mm.models.heads.root_space import fit_root_space, root_space
from selfpose3d_mm.structures import MultiViewPoseDataSample

#: the space the tiny models are configured (trained) on: 16 × 16 × 8 voxels of
#: 266.7 × 266.7 × 285.7 mm
SPACE = dict(space_center=(0.0, 0.0, 1000.0), space_size=(4000.0, 4000.0, 2000.0))
CUBE = (16, 16, 8)
#: a capture space twice as large, elsewhere: 32 × 32 × 16 voxels of the same size
BIG = dict(space_center=(1000.0, -500.0, 1500.0), space_size=(8000.0, 8000.0, 4000.0))
IMAGE, INPUT, HM = (640, 480), (320, 240), (80, 60)
J, ROOT = 15, 2


def _look_at(position, target):
    z = np.asarray(target, float) - position
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


def ring_rig(num_views=6, radius=12000.0, height=4000.0, hfov_deg=90.0):
    """Pinhole cameras evenly on a ring around (0, 0), looking at (0, 0, 900)."""
    W, H = IMAGE
    f = (W / 2) / math.tan(math.radians(hfov_deg) / 2)
    K, R, t = [], [], []
    for i in range(num_views):
        a = 2 * math.pi * i / num_views + 0.3
        pos = np.array([radius * math.cos(a), radius * math.sin(a), height])
        Ri = _look_at(pos, [0.0, 0.0, 900.0])
        K.append([[f, 0, W / 2], [0, f, H / 2], [0, 0, 1]])
        R.append(Ri)
        t.append(-Ri @ pos)
    return MultiViewCameras(np.array(K), np.stack(R), np.stack(t),
                            image_size=np.tile([W, H], (num_views, 1)))


def poses_at(roots):
    """(P, J, 3) people: the root joint at ``roots`` (P, 3), the others at fixed offsets."""
    offsets = np.random.default_rng(7).uniform(-300, 300, (J, 3))
    offsets[ROOT] = 0
    return torch.as_tensor(np.asarray(roots, float)[:, None] + offsets, dtype=torch.float32)


def frame(cams, poses, space, num_sets=1, rig_id='ring6', frame_id=0, with_gt=False):
    """One packed frame (what ``PackMultiViewInputs`` gives): perfect 2D poses of
    ``poses`` (P, J, 3) in every view, ``num_sets`` identical resize view-sets, and
    ``poses`` as the 3D GT when ``with_gt``."""
    C, P = cams.num_views, poses.shape[0]
    A = torch.tensor([[INPUT[0] / IMAGE[0], 0, 0], [0, INPUT[1] / IMAGE[1], 0]])
    uv, valid = cams.project(poses.reshape(1, P * J, 3), return_valid=True)
    inside = valid & cams.in_image(uv)
    kp = (uv * A[0, 0]).view(C, P, J, 2)
    sample = MultiViewPoseDataSample()
    sample.cameras = cams
    sample.affines = A.expand(num_sets, C, 2, 3).clone()
    sample.pseudo_keypoints = kp.expand(num_sets, C, P, J, 2).clone()
    sample.pseudo_keypoints_visible = inside.view(C, P, J).expand(num_sets, C, P, J).clone()
    sample.pseudo_keypoint_scores = torch.ones(C, P, J)
    sample.pseudo_bbox_scores = torch.ones(C, P)
    sample.pseudo_person_mask = torch.ones(C, P, dtype=torch.bool)
    if with_gt:
        sample.gt_instances = InstanceData(keypoints_3d=poses,
                                           keypoints_3d_visible=torch.ones(P, J, dtype=torch.bool))
    sample.set_metainfo(dict(rig_id=rig_id, frame_id=frame_id, num_views=C, **space))
    return dict(inputs=torch.zeros(num_sets, C, 0, dtype=torch.uint8), data_samples=sample)


def collate(frames):
    return dict(inputs=torch.stack([f['inputs'] for f in frames]),
                data_samples=[f['data_samples'] for f in frames])


def tiny_model(objective=None, seed=0, **root_head):
    torch.manual_seed(seed)
    return MODELS.build(dict(
        type='SelfPose3D', input_size=INPUT, heatmap_size=HM, heatmap_input=dict(sigma=2.0),
        root_head=dict(cube_shape=CUBE, mid_channels=4, threshold=0.0, max_proposals=3,
                       **SPACE, **root_head),
        pose_head=dict(cube_shape=(8, 8, 8), mid_channels=4), objective=objective))


#: people inside the configured space (for the fixed values of the unchanged 'config' mode)
ROOTS_IN = [[-900.0, 600.0, 950.0], [1100.0, -700.0, 900.0]]
#: the grid of BIG at the trained voxel: 8000 / 266.7 + 1 = 31 → 32 voxels (8266.7 mm),
#: 4000 / 285.7 + 1 = 15 → 16 voxels (4285.7 mm)
VOXEL = (4000.0 / 15, 4000.0 / 15, 2000.0 / 7)
BIG_SHAPE = (32, 32, 16)
BIG_GROWN = (31 * VOXEL[0], 31 * VOXEL[1], 15 * VOXEL[2])
#: people of BIG on voxel centres of its grid; the first and last outside SPACE
ROOT_VOXELS = [(26, 8, 5), (8, 22, 6), (20, 3, 5)]


def big_voxel_centre(i, j, k):
    return [BIG['space_center'][a] - BIG_GROWN[a] / 2 + n * VOXEL[a]
            for a, n in enumerate((i, j, k))]


class Identity(torch.nn.Module):
    """A root net that hands its input volume back (V2V returns a tuple)."""

    def forward(self, x):
        return (x, )


def test_fitting_keeps_the_trained_voxel_and_the_centre():
    head = tiny_model(space_from='frame').root_head
    assert head.root_space((SPACE['space_center'], SPACE['space_size'])) == \
        head.config_space  # the configured space gives back the configured cube
    big = head.root_space((BIG['space_center'], BIG['space_size']))
    assert big.shape == BIG_SHAPE and big.center == BIG['space_center']
    assert np.allclose(big.size, BIG_GROWN) and np.allclose(big.voxel, VOXEL)
    # 20 × 20 × 4 m at the paper's voxel (80 × 80 × 20 over 8 × 8 × 2 m): 200 × 200 × 40
    paper = (8000 / 79, 8000 / 79, 2000 / 19)
    assert fit_root_space((0, 0, 1000), (20000, 20000, 4000), paper).shape == (200, 200, 40)
    odd = fit_root_space((0, 0, 0), (1000.0, 1000.0, 1000.0), (300.0, 300.0, 300.0))
    assert odd.shape == (8, 8, 8) and odd.size == (2100.0, 2100.0, 2100.0)  # 5 → 8 voxels


def test_config_mode_is_unchanged():
    """Values of the code before ``space_from`` existed (same model, same frame)."""
    model = tiny_model().eval()
    batch = model.data_preprocessor(collate([frame(ring_rig(), poses_at(ROOTS_IN), SPACE)]),
                                    False)['inputs']
    with torch.no_grad():
        raw = model(batch, mode='tensor')
        unproj = model.root_grid.unproject(model.root_input(model.heatmaps(batch)),
                                           batch.cameras, batch.affines[:, 0])
    vol = raw['root_volume']
    assert vol.shape == (1, ) + CUBE
    assert float(unproj.sum()) == pytest.approx(772.1427, rel=1e-4)
    assert float(vol.sum()) == pytest.approx(17.9685, rel=1e-3)
    assert float(vol[0, 4, 11, 3]) == pytest.approx(0.0117, abs=2e-4)
    assert torch.allclose(raw['centers'][0, 0], torch.tensor([-2000.0, -2000.0, 1142.8572]))
    assert torch.allclose(raw['scores'][0], torch.tensor([0.1887, 0.1797, 0.1759]), atol=2e-4)
    target = model.root_head.encode(poses_at(ROOTS_IN)[None, :, ROOT], None)
    assert float(target.sum()) == pytest.approx(12.4031, rel=1e-4)


def test_frame_mode_on_the_configured_space_is_config_mode():
    cams = ring_rig()
    data = collate([frame(cams, poses_at(ROOTS_IN), SPACE)])
    out = {}
    for mode in ('config', 'frame'):
        model = tiny_model(space_from=mode).eval()
        with torch.no_grad():
            out[mode] = model(model.data_preprocessor(data, False)['inputs'], mode='tensor')
    for k in ('root_volume', 'centers', 'scores', 'joints'):
        assert torch.allclose(out['config'][k], out['frame'][k], atol=1e-3), k


def test_frame_mode_finds_people_outside_the_trained_space():
    cams = ring_rig()
    roots = torch.tensor([big_voxel_centre(*v) for v in ROOT_VOXELS])
    uv, valid = cams.project(roots[None], return_valid=True)
    assert ((valid & cams.in_image(uv))[0].sum(0) >= 3).all()  # each root seen 3+ times
    data = collate([frame(cams, poses_at(roots), BIG)])
    found = {}
    for mode in ('config', 'frame'):
        model = tiny_model(space_from=mode).eval()
        model.root_head.net = Identity()  # the root volume is the unprojected root heatmap
        batch = model.data_preprocessor(data, False)['inputs']
        with torch.no_grad():
            raw = model(batch, mode='tensor')
        found[mode] = raw['centers'][0]
        if mode == 'frame':
            assert raw['root_volume'].shape == (1, ) + BIG_SHAPE
            assert (raw['scores'][0] > 0.9).all()
            for v in ROOT_VOXELS:  # the peaks are the people's voxels
                assert raw['root_volume'][0][v] > 0.9
    dist = torch.cdist(roots, found['frame'])
    assert dist.min(1).values.max() < 1.0  # mm: every person at its world position
    outside = torch.cdist(roots[[0, 2]], found['config'])
    assert (outside > 500).all()  # the configured cube cannot see them


def _spy_device_reads(monkeypatch) -> list:
    """Record every call that would read a tensor back to the host on a GPU."""
    reads = []
    for name in ('item', 'tolist', 'cpu', 'numpy', '__bool__', '__float__', '__int__'):
        orig = getattr(torch.Tensor, name)

        def spy(self, *a, _orig=orig, _name=name, **kw):
            reads.append(_name)
            return _orig(self, *a, **kw)
        monkeypatch.setattr(torch.Tensor, name, spy)
    return reads


def test_objectives_train_in_frame_mode_on_another_space(monkeypatch):
    cams = ring_rig()
    roots = torch.tensor([big_voxel_centre(*v) for v in ROOT_VOXELS])
    model = tiny_model(objective=dict(type='SelfPose3dObjective'), space_from='frame')
    model.train()
    batch = model.data_preprocessor(collate([frame(cams, poses_at(roots), BIG, num_sets=3)]),
                                    True)['inputs']
    sampler = model.objective.sampler_for(model, batch)
    x0 = BIG['space_center'][0]
    assert sampler.x_range == (x0 - 4000, x0 + 4000)  # synthetic roots over the batch's space
    losses = model(batch, mode='loss')
    assert set(losses) == {'loss_root_syn', 'loss_root_cons', 'loss_pose_hm', 'loss_pose_l1'}
    sum(losses.values()).backward()
    assert model.root_head.net.output_layer.weight.grad.abs().sum() > 0
    assert model.pose_head.net.output_layer.weight.grad.abs().sum() > 0
    # the root losses of a frame-mode step read nothing back from the device
    model.objective.set_stage(dict(loss_root_syn=100.0, loss_root_cons=1.0))
    reads = _spy_device_reads(monkeypatch)
    losses = model(batch, mode='loss')
    assert reads == [] and set(losses) == {'loss_root_syn', 'loss_root_cons'}
    with torch.no_grad():
        model(batch, mode='tensor')
    assert reads == []
    torch.ones(1).item()
    assert reads == ['item']  # the spy sees what it should


def test_supervised_root_target_follows_the_space():
    cams = ring_rig()
    roots = torch.tensor([big_voxel_centre(*v) for v in ROOT_VOXELS])
    model = tiny_model(objective=dict(type='VoxelPoseObjective', pose_on_gt_roots=False,
                                      match_radius=5000.0), space_from='frame').train()
    batch = model.data_preprocessor(collate([frame(cams, poses_at(roots), BIG,
                                                   with_gt=True)]), True)['inputs']
    space = model.root_space(batch)
    target = model.root_head.encode(batch.gt.keypoints[:, :, ROOT], batch.gt.mask, space)
    assert target.shape == (1, ) + BIG_SHAPE
    for v in ROOT_VOXELS:
        assert target[0][v] == pytest.approx(1.0, abs=1e-4)
    losses = model(batch, mode='loss')
    assert set(losses) == {'loss_root', 'loss_pose'} and torch.isfinite(losses['loss_root'])
    losses['loss_root'].backward()
    assert model.root_head.net.output_layer.weight.grad.abs().sum() > 0


def test_the_cache_never_serves_a_grid_of_another_space():
    cams = ring_rig()
    model = tiny_model(space_from='frame').eval()
    shifted = dict(space_center=(1500.0, -500.0, 1500.0), space_size=BIG['space_size'])
    volumes = []
    for space in (BIG, shifted, BIG, SPACE):
        batch = model.data_preprocessor(collate([frame(cams, poses_at(ROOTS_IN), space)]),
                                        False)['inputs']
        assert batch.grid_keys[0] is not None  # same rig, same affines: one key for all
        with torch.no_grad():
            volumes.append(model.root_volume(model.root_input(model.heatmaps(batch)), batch))
    assert model.root_grid.misses == 3 and model.root_grid.hits == 1
    assert volumes[0].shape == volumes[1].shape == (1, ) + BIG_SHAPE
    assert not torch.allclose(volumes[0], volumes[1])  # same shape, another place
    assert torch.equal(volumes[0], volumes[2]) and volumes[3].shape == (1, ) + CUBE


def test_the_cache_keeps_within_its_byte_budget():
    cams = ring_rig()
    cache = RootGridCache(SPACE['space_center'], SPACE['space_size'], CUBE, max_bytes=1 << 20)
    A = torch.eye(2, 3)[None].expand(cams.num_views, 2, 3) * 0.125
    small = (SPACE['space_center'], SPACE['space_size'], CUBE)      # 6 × 2048 × 12 bytes
    big = (BIG['space_center'], BIG_GROWN, BIG_SHAPE)                # 6 × 16384 × 12 bytes
    cache.grid(cams, A, HM, 'k', small)
    cache.grid(cams, A, HM, 'k', big)  # over the budget: not kept, the small one is
    assert len(cache._cache) == 1 and cache.nbytes == 6 * 2048 * 12


def test_frames_of_one_batch_must_share_the_space():
    cams = ring_rig()
    data = collate([frame(cams, poses_at(ROOTS_IN), SPACE, frame_id=0),
                    frame(cams, poses_at(ROOTS_IN), BIG, frame_id=1)])
    model = tiny_model(space_from='frame').eval()
    batch = model.data_preprocessor(data, False)['inputs']
    with pytest.raises(ValueError, match='must share the capture space') as e:
        model(batch, mode='tensor')
    assert 'frames [0]: center (0, 0, 1000), size (4000, 4000, 2000)' in str(e.value)
    assert 'frames [1]: center (1000, -500, 1500), size (8000, 8000, 4000)' in str(e.value)
    config = tiny_model().eval()  # the configured space does not care
    with torch.no_grad():
        assert config(batch, mode='tensor')['root_volume'].shape == (2, ) + CUBE
    del data['data_samples'][1].space_size
    with pytest.raises(ValueError, match="needs 'space_center' and 'space_size'"):
        model(model.data_preprocessor(data, False)['inputs'], mode='tensor')


def test_max_voxels_refuses_a_space_too_large_for_the_memory():
    model = tiny_model(space_from='frame', max_voxels=10_000).eval()
    batch = model.data_preprocessor(collate([frame(ring_rig(), poses_at(ROOTS_IN), BIG)]),
                                    False)['inputs']
    with pytest.raises(ValueError, match='32×32×16 voxels.*max_voxels=10,000.*coarser'):
        model(batch, mode='tensor')
    with pytest.raises(ValueError, match='space_from must be one of'):
        tiny_model(space_from='rig')


def test_the_root_net_is_fully_convolutional():
    head = tiny_model(space_from='frame').root_head
    check_fully_convolutional(head.net)
    odd = root_space((0, 0, 0), (1100, 1900, 700), (12, 20, 8))
    with torch.no_grad():  # any multiple of 4 on every axis
        assert head(torch.rand(1, 1, 12, 20, 8), odd).shape == (1, 12, 20, 8)
    head.net.output_layer = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 1))
    with pytest.raises(ValueError, match="layer 'output_layer.0' is a Flatten"):
        check_fully_convolutional(head.net)
