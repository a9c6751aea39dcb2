"""Loading never executes code.

Every file the package loads that could carry code (checkpoints, the Panoptic index cache,
prediction files, the Shelf / Campus detection pickles and pose bank) is planted with a
payload whose unpickling would create a marker file (``os.system`` / ``eval`` through a
pickle ``REDUCE``): nothing runs (no marker) and the error names the file. The real files
(fixtures, the project's own checkpoints and outputs) still load: a tiny self-supervised
training run writes checkpoints through ``tools/train.py``, which ``--resume`` and
``tools/test.py`` read back under torch's weights-only loader.
"""
import io
import os
import pickle
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from selfpose3d_mm.datasets.shelf_campus.poses import build_pose_source
from selfpose3d_mm.io import (ShelfCampusFileError, load_detections, load_pose_bank,
                              load_predicted_poses, load_predictions)
from selfpose3d_mm.io.safe_pickle import OpaqueObject, UnsafePickleError, load_pickle
from selfpose3d_mm.utils.safe_load import (UnsafeCheckpointError, checkpoint_safe_globals,
                                           load_checkpoint_file)
from tests.conftest import fixture_path, load_tool

ROOT = Path(__file__).resolve().parents[2]


class _System:
    """Unpickling it runs ``touch MARKER`` (``os.system``)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {shlex.quote(self.marker)}', )


class _Eval:
    """Unpickling it creates MARKER through ``eval``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return eval, (f'open({self.marker!r}, "w").close()', )


@pytest.fixture(params=[_System, _Eval], ids=['os.system', 'eval'])
def payload(request, tmp_path):
    """(payload object, marker path, name of the global the error must name)."""
    marker = tmp_path / 'PWNED'
    name = 'system' if request.param is _System else 'builtins.eval'
    return request.param(marker), marker, name


def _tool(name):
    return load_tool(name)


# ------------------------------------------------------------------ checkpoints
def test_crafted_checkpoint_is_refused_without_running(payload, tmp_path, monkeypatch):
    obj, marker, name = payload
    path = tmp_path / 'crafted.pth'
    torch.save(dict(state_dict={'w': torch.zeros(2)}, meta=dict(x=obj)), str(path))
    from mmengine.runner.checkpoint import _load_checkpoint
    for env in ('', '1'):  # even when the user forces torch's full unpickler
        if env:
            monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', env)
        with pytest.raises(UnsafeCheckpointError, match=re.escape(str(path)) + '.*' + name):
            load_checkpoint_file(str(path))
        with pytest.raises(UnsafeCheckpointError, match=re.escape(str(path))):
            _load_checkpoint(str(path))  # mmengine's load_checkpoint / Runner.resume path
        assert not marker.exists()
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD')
    with pytest.raises(pickle.UnpicklingError):
        torch.load(str(path))  # torch's default, which the package no longer overrides
    assert not marker.exists()


def test_crafted_checkpoint_over_http_is_refused_without_running(payload, tmp_path,
                                                                 monkeypatch):
    """``http(s)://`` checkpoints (mmengine's loader calls ``torch.load`` without
    ``weights_only``) are downloaded and read weights-only too; served on loopback."""
    import functools
    import http.server
    import threading
    obj, marker, name = payload
    served = tmp_path / 'www'
    served.mkdir()
    torch.save(dict(state_dict={'w': torch.zeros(2)}, meta=dict(x=obj)),
               str(served / 'crafted.pth'))
    torch.save(dict(state_dict={'w': torch.ones(2)}), str(served / 'good.pth'))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'hub'))
    monkeypatch.setattr(torch.hub, '_hub_dir', None)
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')  # a user's full-unpickle switch
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f'http://127.0.0.1:{server.server_address[1]}'
        from mmengine.runner.checkpoint import _load_checkpoint
        with pytest.raises(UnsafeCheckpointError, match='crafted.pth.*' + name):
            _load_checkpoint(f'{url}/crafted.pth')
        assert torch.equal(_load_checkpoint(f'{url}/good.pth')['state_dict']['w'],
                           torch.ones(2))
    finally:
        server.shutdown()
        server.server_close()
    assert not marker.exists()


def test_allow_list_is_data_only():
    names = {g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
             for g in checkpoint_safe_globals()}
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in names
    assert 'numpy._core.multiarray._reconstruct' in names
    assert 'numpy.core.multiarray._reconstruct' in names  # checkpoints written by numpy 1
    for bad in ('builtins.eval', 'builtins.exec', 'posix.system', 'os.system',
                'numpy.dtypes.ObjectDType', 'numpy.dtypes.StrDType'):
        assert bad not in names
    assert all(n.startswith(('numpy.', 'mmengine.logging.', 'builtins.getattr'))
               for n in names), sorted(names)


TINY_CONFIG = """
_base_ = [{runtime!r}]
space = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))
world = dict(type='SyntheticMultiViewDataset', num_people=(1, 2), seed=0, **space)
model = dict(type='SelfPose3D', input_size=(160, 96), heatmap_size=(40, 24),
             root_head=dict(cube_shape=(8, 8, 4), mid_channels=4, threshold=0.0,
                            max_proposals=2, **space),
             pose_head=dict(cube_shape=(8, 8, 8), mid_channels=4),
             objective=dict(type='SelfPose3dObjective', attention_net=dict(depth=18)))
loader = dict(batch_size=1, num_workers=0, persistent_workers=False,
              sampler=dict(type='DefaultSampler', shuffle=False),
              collate_fn=dict(type='multiview_collate'))
train_dataloader = dict(**loader, dataset=dict(**world, split='train', num_samples=2, pipeline=[
    dict(type='MultiViewRandomAffinePair', input_size=(160, 96)),
    dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs', with_gt=False)]))
val_dataloader = dict(**loader, dataset=dict(
    **world, split='val', num_samples=2, test_mode=True, pipeline=[
        dict(type='MultiViewResize', input_size=(160, 96)), dict(type='MultiViewAffine'),
        dict(type='PackMultiViewInputs')]))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiViewPoseAPMetric')
test_evaluator = val_evaluator
train_cfg = dict(by_epoch=True, max_epochs={epochs}, val_interval=1)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = []
custom_hooks = [dict(type='TrainingStageHook', stages=[dict(
    name='root', epochs={epochs}, train=['root_net'], lr=1e-3,
    losses=dict(loss_root_syn=100.0, loss_root_cons=1.0))])]
default_hooks = dict(logger=dict(type='LoggerHook', interval=1))
log_level = 'WARNING'
"""


def _tiny_config(folder: Path, epochs: int) -> str:
    path = folder / f'tiny_{epochs}ep.py'
    path.write_text(TINY_CONFIG.format(
        runtime=str(ROOT / 'configs' / '_base_' / 'default_runtime.py'), epochs=epochs))
    return str(path)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """tools/train.py: 1 epoch, then ``--resume`` to 2 epochs; returns the folders."""
    root = tmp_path_factory.mktemp('tiny_run')
    work = root / 'work'
    train = _tool('train')
    argv = sys.argv
    try:
        sys.argv = ['train.py', _tiny_config(root, 1), '--work-dir', str(work)]
        train.main()
        assert (work / 'epoch_1.pth').is_file()
        sys.argv = ['train.py', _tiny_config(root, 2), '--work-dir', str(work),
                    '--resume', str(work / 'epoch_1.pth')]
        train.main()
    finally:
        sys.argv = argv
    return root, work


def test_project_checkpoints_round_trip(trained):
    root, work = trained
    ckpt = work / 'epoch_2.pth'
    assert ckpt.is_file()
    assert torch.serialization.get_unsafe_globals_in_checkpoint(str(ckpt)) == []
    data = load_checkpoint_file(str(ckpt))
    assert data['meta']['epoch'] == 2  # resumed from epoch 1, trained the second
    scalars = data['message_hub']['log_scalars']
    assert scalars and all(isinstance(v, HistoryBuffer) for v in scalars.values())
    assert len(scalars['train/loss']._log_history)  # numpy history restored
    # plain torch.load (torch's weights-only default) reads it too, with the allow-list
    assert set(torch.load(str(ckpt))) == set(data)


def test_test_tool_writes_and_reads_back_predictions(trained):
    root, work = trained
    test = _tool('test')
    cfg = _tiny_config(root, 2)
    for ext in ('npz', 'json'):
        test.main([cfg, str(work / 'epoch_2.pth'), '--work-dir', str(root / 'test'),
                   '--out', str(root / f'preds.{ext}')])
    with np.load(root / 'preds.npz', allow_pickle=False) as z:
        kp, sc, ids = z['keypoints_3d'], z['scores'], z['frame_ids']
        assert kp.shape[0] == 2 and kp.shape[2:] == (15, 3) and sc.shape == kp.shape[:2]
        assert ids.dtype.kind == 'U' and len(set(ids.tolist())) == 2
        assert z['joint_names'].tolist()[2] == 'mid_hip'
    doc = load_predictions(str(root / 'preds.json'))
    assert doc['format'] == 'selfpose3d_mm/predictions3d' and len(doc['cameras']) == 1
    assert [f['frame_id'] for f in doc['frames']] == ids.tolist()
    np.testing.assert_allclose(doc['arrays']['keypoints_3d'], kp, atol=0.051)
    # both feed the Shelf / Campus `predictions` pose source
    a, _ = load_predicted_poses(str(root / 'preds.npz'), score_threshold=0.0)
    b, _ = load_predicted_poses(str(root / 'preds.json'), score_threshold=0.0)
    assert a.shape == b.shape == (int(np.isfinite(sc).sum()), 15, 3)
    np.testing.assert_allclose(a, b, atol=0.051)
    with pytest.raises(SystemExit):  # no pickle output any more
        test.parse_args([cfg, 'x.pth', '--out', str(root / 'preds.pkl')])


def test_test_tool_refuses_a_crafted_checkpoint_in_a_fresh_process(trained, tmp_path):
    """The reported exploit: ``tools/test.py CONFIG crafted.pth`` (a fresh interpreter, no
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD in its environment: the package sets none)."""
    root, _ = trained
    marker = tmp_path / 'PWNED'
    crafted = tmp_path / 'crafted.pth'
    torch.save(dict(state_dict={}, meta=dict(x=_System(marker))), str(crafted))
    env = {k: v for k, v in os.environ.items() if k != 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'}
    env['PYTHONPATH'] = str(ROOT)
    probe = ("import os, runpy, sys; sys.argv = ['tools/test.py'] + sys.argv[1:]; "
             "import selfpose3d_mm; "
             "assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ; "
             "runpy.run_path('tools/test.py', run_name='__main__')")
    res = subprocess.run([sys.executable, '-c', probe, _tiny_config(root, 2), str(crafted),
                          '--work-dir', str(tmp_path / 'w')], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode != 0
    assert 'UnsafeCheckpointError' in res.stderr and str(crafted) in res.stderr, res.stderr
    assert 'AssertionError' not in res.stderr, res.stderr
    assert not marker.exists()


# ------------------------------------------------------------------ third-party pickles
def _plant(path: Path, obj, protocol=pickle.HIGHEST_PROTOCOL) -> str:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return str(path)


@pytest.mark.parametrize('protocol', [0, 2, pickle.HIGHEST_PROTOCOL])
def test_planted_pickles_are_refused_without_running(payload, tmp_path, protocol):
    obj, marker, name = payload
    rng = np.random.default_rng(0)
    det = _plant(tmp_path / 'pred_shelf_maskrcnn_hrnet_coco.pkl',
                 {'0_0': [dict(pred=rng.random((17, 3)), extra=obj)]}, protocol)
    bank = _plant(tmp_path / 'panoptic_training_pose.pkl',
                  [dict(pose=rng.random((17, 3)), vis=obj)], protocol)
    preds = _plant(tmp_path / 'preds.pkl', [dict(pred_instances=dict(
        keypoints_3d=rng.random((1, 15, 3)), scores=obj))], protocol)
    refused = f'{name}`'
    for path, load in ((det, load_detections), (bank, load_pose_bank),
                       (preds, load_predicted_poses)):
        with pytest.raises(UnsafePickleError, match=re.escape(path) + '.*' + refused):
            load(path)
    for kind, path in (('bank', bank), ('predictions', preds)):  # the dataset knob
        with pytest.raises(UnsafePickleError, match=re.escape(path)):
            build_pose_source(dict(type=kind, path=path), rng)
    assert not marker.exists()


def test_tensor_storage_payload_is_refused(payload, tmp_path):
    """A legacy prediction dump admits torch tensors; their storage bytes go through
    torch's weights-only loader, never ``torch.storage._load_from_bytes``'s full one."""
    obj, marker, _ = payload
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)

    class Storage:
        def __reduce__(self):
            return torch.storage._load_from_bytes, (buf.getvalue(), )

    path = _plant(tmp_path / 'preds.pkl', [dict(pred_instances=dict(
        keypoints_3d=torch._utils._rebuild_tensor_v2, scores=Storage()))])
    with pytest.raises(ShelfCampusFileError, match=re.escape(path)):
        load_predicted_poses(path)
    assert not marker.exists()


def test_real_third_party_pickles_still_load():
    for ds in ('shelf', 'campus'):
        det_path = fixture_path(ds, f'pred_{ds}_maskrcnn_hrnet_coco.pkl')
        with open(det_path, 'rb') as f:
            ref = pickle.load(f)  # trusted fixture: the reference content
        det = load_detections(str(det_path))
        assert type(det) is type(ref) and det.keys() == ref.keys()
        for k in ref:
            assert len(det[k]) == len(ref[k])
            for a, b in zip(det[k], ref[k]):
                assert a.keys() == b.keys()
                np.testing.assert_array_equal(a['pred'], b['pred'])
        poses, valid = load_pose_bank(str(fixture_path(ds, 'panoptic_training_pose.pkl')))
        assert poses.shape[1:] == (15, 3) and valid.shape == poses.shape[:2]


def test_legacy_prediction_dumps_still_load(tmp_path, ring_rig):
    """What older ``tools/test.py --out`` wrote (mmengine DumpResults dicts: tensors, the
    cameras object) loads; the cameras come back as an inert placeholder."""
    kp = torch.rand(2, 15, 3) * 1000
    dump = [dict(frame_id='a', cameras=ring_rig, sample_idx=np.int64(0),
                 pred_instances=dict(keypoints_3d=kp, scores=torch.tensor([0.9, 0.1]))),
            dict(frame_id='b', pred_instances=dict(keypoints_3d=torch.zeros(0, 15, 3),
                                                   scores=torch.zeros(0)))]
    for protocol in (2, pickle.HIGHEST_PROTOCOL):  # mmengine's dump uses protocol 2
        path = _plant(tmp_path / f'preds{protocol}.pkl', dump, protocol)
        poses, valid = load_predicted_poses(path, score_threshold=0.3)
        np.testing.assert_allclose(poses, kp[:1].numpy(), rtol=1e-6)
        assert valid.all()
    from selfpose3d_mm.io.shelf_campus import _legacy_dump_globals
    back = load_pickle(path, extra=_legacy_dump_globals(), opaque_prefixes=('selfpose3d_mm.', ))
    assert isinstance(back[0]['cameras'], OpaqueObject)
    assert 'MultiViewCameras' in back[0]['cameras'].global_name
    assert torch.equal(back[0]['pred_instances']['keypoints_3d'], kp)


def test_plain_data_pickles_of_every_protocol_load(tmp_path):
    data = dict(a=[1, 2.5, 'x', b'\x00\xff', (None, True)], s={1, 2}, f=frozenset({3}),
                c=complex(1, 2), arr=np.arange(6, dtype=np.float32).reshape(2, 3),
                scalar=np.float64(2.5), i=np.int64(7), ba=bytearray(b'ab'))
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = load_pickle(_plant(tmp_path / f'p{protocol}.pkl', data, protocol))
        assert back.keys() == data.keys() and back['s'] == {1, 2} and back['ba'] == b'ab'
        np.testing.assert_array_equal(back['arr'], data['arr'])
        assert back['arr'].dtype == np.float32 and back['scalar'] == 2.5


def test_object_arrays_in_an_npz_are_refused(payload, tmp_path):
    obj, marker, _ = payload
    path = tmp_path / 'preds.npz'
    np.savez(path, keypoints_3d=np.array([obj], dtype=object), scores=np.zeros((1, 1)))
    with pytest.raises(ShelfCampusFileError, match=re.escape(str(path))):
        load_predicted_poses(str(path))
    assert not marker.exists()


# ------------------------------------------------------------------ the Panoptic index cache
def test_planted_panoptic_cache_is_never_unpickled(payload, tmp_path):
    from tests.test_datasets.test_panoptic import _build, _joints, _make_sequence
    obj, marker, _ = payload
    _make_sequence(tmp_path, 'seqA', {100: [_joints()], 101: [_joints(), _joints(100)]})
    ref = _build(tmp_path)
    cache = Path(ref.cache_path())
    assert cache.suffix == '.npz' and cache.is_file()
    with np.load(cache, allow_pickle=False) as z:  # plain arrays only
        assert all(z[k].dtype != object for k in z.files)
    # the pickle the older cache used, planted under its name: never read
    _plant(cache.with_suffix('.pkl'), dict(key='x', index=obj))
    # a planted npz (object array): refused by allow_pickle=False, rebuilt
    np.savez(cache, key=np.array([obj], dtype=object))
    again = _build(tmp_path)
    assert len(again) == len(ref) == 2
    np.testing.assert_array_equal(again.get_data_info(1)['gt_keypoints_3d'],
                                  ref.get_data_info(1)['gt_keypoints_3d'])
    assert not marker.exists()
    with np.load(cache, allow_pickle=False) as z:  # rewritten
        assert z['key'].dtype.kind == 'U'


# ------------------------------------------------------------------ scripts
def test_setup_env_passes_paths_as_arguments(tmp_path):
    text = (ROOT / 'tools' / 'setup_env.sh').read_text()
    # every inline python program is a constant: nothing expanded into its text (a
    # single-quoted string, a double-quoted one without `$`, or one constant variable)
    codes = re.findall(r' -c ("[^"]*"|\'[^\']*\')', text)
    assert len(codes) >= 3
    for code in codes:
        assert code.startswith("'") or '$' not in code or re.fullmatch(
            r'"\$EDITABLE_CHECK"', code), code
    m = re.search(r"^EDITABLE_CHECK=('[^']*')$", text, re.M)
    assert m and 'sys.argv[1]' in m.group(1) and '$' not in m.group(1)
    # the check itself, on a checkout path with quotes in it (pasted into the code, as the
    # script once did, it would run `touch PWNED` in the working folder)
    marker = tmp_path / 'PWNED'
    evil = tmp_path / "a' + str(__import__('os').system('touch PWNED')) + '\"b"
    evil.mkdir()
    script = f'EDITABLE_CHECK={m.group(1)}\n' \
             '"$1" -c "$EDITABLE_CHECK" "$2"\n'
    res = subprocess.run(['bash', '-c', script, 'bash', sys.executable, str(evil)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert res.returncode == 1, res.stderr  # "not this checkout", and nothing ran
    assert not marker.exists()


def test_no_global_switch_and_no_hidden_warnings():
    for src in sorted((ROOT / 'selfpose3d_mm').rglob('*.py')):  # the package never touches it
        assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in src.read_text(), src
    for script in ('run_tests.sh', 'run_demo.sh'):
        assert 'ignore::UserWarning' not in (ROOT / 'tools' / script).read_text()
    readme = (ROOT / 'README.md').read_text()
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1` is set' not in readme
    assert '--out preds.pkl' not in readme
