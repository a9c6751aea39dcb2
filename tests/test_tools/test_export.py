"""tools/export.py and the fixed-rig modules: a small randomly initialised model of
configs/selfpose3d_synthetic.py (tiny cubes) for the rig of its test split.

* the modules (precomputed root grid, rig as constants) give the model's own outputs on
  real frames of the dataset, from heatmaps and from the frames' 2D poses;
* the exported ONNX (onnxruntime) and TorchScript files give PyTorch's outputs within
  1e-4 (normalised, see selfpose3d_mm/apis/export.py) on random inputs, with a batch
  size they were not traced with, and the ONNX whole model reproduces the model's
  predictions on the dataset frames;
* user errors end with a message, not a traceback.
Per-call times are printed (``pytest -s``).
"""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmpose.registry import DATASETS, MODELS

from selfpose3d_mm.apis.export import TOLERANCE, load_model_for_export, rig_of_dataset
from selfpose3d_mm.datasets import multiview_collate
from selfpose3d_mm.models.export import build_export_modules, rig_heatmap_affines
from tests.conftest import load_tool

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / 'configs' / 'selfpose3d_synthetic.py')
TINY = {'model.root_head.cube_shape': (16, 16, 4), 'model.root_head.mid_channels': 4,
        'model.root_head.max_proposals': 4, 'model.pose_head.cube_shape': (8, 8, 8),
        'model.pose_head.mid_channels': 4, 'test_dataloader.dataset.num_samples': 2}
TINY_ARGS = [f'{k}={v}'.replace(' ', '') for k, v in TINY.items()]


@pytest.fixture(scope='module')
def setup():
    torch.manual_seed(0)
    model, cfg = load_model_for_export(CONFIG, None, dict(TINY))
    ds = DATASETS.build(dict(cfg.test_dataloader.dataset))
    data = model.data_preprocessor(multiview_collate([ds[0], ds[1]]), False)
    with torch.no_grad():
        ref = model(data['inputs'], mode='tensor')
    return model, cfg, ds, data['inputs'], ref


def _poses2d(ds, indices):
    """The frames' 2D pseudo poses, original pixels, padded (B, C, P, J) like a user's."""
    infos = [ds.frame_info(i) for i in indices]
    C, J = infos[0]['cameras'].num_views, 15
    P = max(len(k) for info in infos for k in info['pseudo_keypoints'])
    kp, sc, vis = np.zeros((len(infos), C, P, J, 2)), np.zeros((len(infos), C, P, J)), \
        np.zeros((len(infos), C, P, J))
    for b, info in enumerate(infos):
        for c in range(C):
            n = len(info['pseudo_keypoints'][c])
            kp[b, c, :n] = info['pseudo_keypoints'][c]
            sc[b, c, :n] = info['pseudo_keypoint_scores'][c]
            vis[b, c, :n] = 1
    return tuple(torch.as_tensor(x, dtype=torch.float32) for x in (kp, sc, vis))


def _by_distinct_scores(scores, *outs):
    """Keep the proposals whose score differs from the others' (ties may swap order)."""
    gap = (scores[..., :, None] - scores[..., None, :]).abs() + torch.eye(scores.shape[-1])
    keep = gap.min(-1).values > 1e-5
    assert keep.any()
    return [o[keep] for o in outs]


def test_fixed_rig_modules_give_the_model_outputs(setup):
    model, cfg, ds, batch, ref = setup
    cams = rig_of_dataset(cfg, 'test')
    # the constant affines are those a test batch carries
    torch.testing.assert_close(rig_heatmap_affines(cams, model.input_size, model.heatmap_size),
                               batch.affines[0, 0], rtol=0, atol=1e-6)
    mods = build_export_modules(model, cams)
    assert set(mods) == {'root_stage', 'pose_stage', 'model_heatmaps', 'model_poses2d'}
    hm = ref['heatmaps']
    with torch.no_grad():
        root, centers, scores = mods['root_stage'](hm)
        joints = mods['pose_stage'](hm, ref['centers'])
        full = mods['model_heatmaps'](hm)
        from_2d = mods['model_poses2d'](*_poses2d(ds, [0, 1]))
    torch.testing.assert_close(root, ref['root_volume'], rtol=0, atol=1e-6)
    torch.testing.assert_close(centers, ref['centers'])
    torch.testing.assert_close(scores, ref['scores'], rtol=0, atol=1e-6)
    torch.testing.assert_close(joints, ref['joints'], rtol=0, atol=1e-3)  # mm
    for a, b in zip(full, (ref['centers'], ref['scores'], ref['joints'])):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-3)
    # from the frames' own 2D poses (rendered by the module, float32 keypoint affines)
    torch.testing.assert_close(from_2d[1], ref['scores'], rtol=0, atol=1e-4)
    a = _by_distinct_scores(ref['scores'], ref['centers'], ref['joints'])
    b = _by_distinct_scores(ref['scores'], from_2d[0], from_2d[2])
    torch.testing.assert_close(b[0], a[0], rtol=0, atol=1e-3)
    torch.testing.assert_close(b[1], a[1], rtol=0, atol=0.2)  # mm, 1e-4 of the cube


def test_tool_exports_onnx_and_torchscript(setup, tmp_path, capsys):
    for name in ('onnx', 'onnxscript'):
        pytest.importorskip(name)
    ort = pytest.importorskip('onnxruntime')
    model, cfg, ds, batch, ref = setup
    ckpt = tmp_path / 'random.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    out = tmp_path / 'export'
    manifest = load_tool('export').main([
        CONFIG, str(ckpt), '--dataset-split', 'test', '-o', str(out), '--timing-runs', '3',
        '--parts', 'root_stage', 'pose_stage', 'model_poses2d', '--cfg-options',
        *TINY_ARGS])
    printed = capsys.readouterr().out
    files = manifest['files']
    assert set(files) == {'root_stage', 'pose_stage', 'model_poses2d'}
    assert manifest['opset'] >= 17 and manifest['threshold'] == model.test_cfg.get(
        'threshold', model.root_head.threshold)
    for part, entry in files.items():
        for fmt, ext in (('onnx', 'onnx'), ('torchscript', 'pt')):
            assert (out / f'{part}.{ext}').is_file()
            checked = entry[f'{fmt}_max_error']
            err = {k: v for k, v in checked.items() if not k.startswith('compared')}
            assert max(err.values()) <= TOLERANCE, (part, fmt, err)
            # the check compared proposals, not only the scores
            assert checked.get('compared_centers', 1) > 0 and \
                checked.get('compared_joints', 1) > 0, (part, fmt, checked)
        assert set(entry['time_ms']) == {'pytorch', 'onnx', 'torchscript'}
        assert f'{part}: pytorch' in printed
    # independently of the tool's own check: the ONNX whole model on the dataset frames'
    # 2D poses (batch 2; traced with 1) gives the model's outputs on those frames
    sess = ort.InferenceSession(str(out / 'model_poses2d.onnx'),
                                providers=['CPUExecutionProvider'])
    names = [i.name for i in sess.get_inputs()]
    assert names == ['keypoints', 'keypoint_scores', 'keypoint_visible']
    centers, scores, joints = (torch.from_numpy(x) for x in sess.run(
        None, {n: x.numpy() for n, x in zip(names, _poses2d(ds, [0, 1]))}))
    torch.testing.assert_close(scores, ref['scores'], rtol=0, atol=1e-4)
    a = _by_distinct_scores(ref['scores'], ref['centers'], ref['joints'])
    b = _by_distinct_scores(ref['scores'], centers, joints)
    torch.testing.assert_close(b[0], a[0], rtol=0, atol=1e-3)
    torch.testing.assert_close(b[1], a[1], rtol=0, atol=0.2)
    ts = torch.jit.load(str(out / 'root_stage.pt'))
    root, c2, s2 = ts(ref['heatmaps'])  # traced with batch 1, run with 2
    torch.testing.assert_close(root, ref['root_volume'], rtol=0, atol=1e-6)
    with capsys.disabled():
        print('\nexport per-call times (ms, CPU, tiny cubes):')
        for part, entry in files.items():
            print(f'  {part}: ' + ', '.join(f'{k} {v:.1f}' for k, v in entry['time_ms'].items()))


@pytest.mark.parametrize('extra, message', [
    (['--calibration', '/nonexistent/rig.json'], '/nonexistent/rig.json'),
    (['--dataset-split', 'test', '--parts', 'model_images'], 'model_poses2d'),
])
def test_user_errors_end_with_a_message(tmp_path, extra, message):
    with pytest.raises(SystemExit, match=message):
        load_tool('export').main([CONFIG, 'none', '-o', str(tmp_path), *extra,
                                  '--cfg-options', *TINY_ARGS])


def test_checkpoint_of_another_model_ends_with_a_message(setup, tmp_path):
    ckpt = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=setup[0].state_dict(), meta={}), ckpt)
    with pytest.raises(SystemExit, match='do not fit the model'):  # the untouched config
        load_tool('export').main([CONFIG, str(ckpt), '-o', str(tmp_path), '--dataset-split',
                                  'test'])


def test_image_model_front_end(tmp_path):
    """The image-path model (tiny ResNet-18): the exported graph normalises the warped
    images and runs the 2D net as the model does; ONNX within the tolerance."""
    pytest.importorskip('onnxscript')
    pytest.importorskip('onnxruntime')
    from selfpose3d_mm.apis.export import export_rig_model
    torch.manual_seed(0)
    opts = {**TINY, 'model.heatmap_net_2d.backbone': dict(
        type='ResNet', depth=18, stem_channels=8, base_channels=8),
        'model.heatmap_net_2d.head.in_channels': 64,
        'model.heatmap_net_2d.head.deconv_out_channels': (16, 16, 16),
        'model.objective': None}
    model, cfg = load_model_for_export(
        str(ROOT / 'configs' / 'selfpose3d_synthetic_images.py'), None, opts)
    ds = DATASETS.build(dict(cfg.test_dataloader.dataset))
    data = multiview_collate([ds[0], ds[1]])
    with torch.no_grad():
        ref = model(model.data_preprocessor(data, False)['inputs'], mode='tensor')
        mods = build_export_modules(model, rig_of_dataset(cfg, 'test'))
        assert 'model_images' in mods and 'model_poses2d' not in mods
        centers, scores, joints = mods['model_images'](data['inputs'][:, 0])  # uint8 RGB
    torch.testing.assert_close(scores, ref['scores'], rtol=0, atol=1e-5)
    a = _by_distinct_scores(ref['scores'], ref['centers'], ref['joints'])
    b = _by_distinct_scores(ref['scores'], centers, joints)
    torch.testing.assert_close(b[0], a[0], rtol=0, atol=1e-3)
    torch.testing.assert_close(b[1], a[1], rtol=0, atol=1e-2)
    manifest = export_rig_model(model, rig_of_dataset(cfg, 'test'), str(tmp_path),
                                formats=['onnx'], parts=['model_images'], timing_runs=0)
    err = manifest['files']['model_images']['onnx_max_error']
    assert max(v for k, v in err.items() if not k.startswith('compared')) <= TOLERANCE
    assert manifest['input_affines'] and len(manifest['input_affines']) == 5


def test_frame_space_model_is_exported_for_one_fitted_space():
    """A model whose root net searches each frame's space (the generalist) is exported
    for the rig's space: same weights, 'config' mode on that space at the trained voxel."""
    opts = dict(TINY, **{'model.root_head.space_from': 'frame'})
    with pytest.raises(ValueError, match='--space-center'):
        load_model_for_export(CONFIG, None, dict(opts))
    from selfpose3d_mm.apis import load_config
    frame_model = MODELS.build(load_config(CONFIG, dict(opts)).model)
    space = ((500.0, -300.0, 800.0), (12000.0, 9000.0, 2000.0))
    model, _ = load_model_for_export(CONFIG, None, dict(opts), space=space)
    head = model.root_head
    assert head.space_from == 'config'
    expected = frame_model.root_head.root_space(space)
    assert head.space_center == expected.center and head.cube_shape == expected.shape
    assert np.allclose(head.trained_voxel, frame_model.root_head.trained_voxel)
    assert all(n % 4 == 0 for n in head.cube_shape)
    assert head.cube_shape[0] > 16  # covers the larger space, not the configured cube
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: v.shape for k, v in frame_model.state_dict().items()}
