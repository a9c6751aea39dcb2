"""A run killed with SIGKILL (mid-epoch, or leaving a truncated checkpoint) and resumed
with ``--resume`` ends with weights bit-identical to the uninterrupted run, with data
workers; the killed run leaves no worker behind."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from selfpose3d_mm.engine import find_resume_checkpoint

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
_base_ = ['{root}/configs/_base_/default_runtime.py']
space = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))
pipeline = [dict(type='MultiViewRandomAffinePair', input_size=(160, 96)),
            dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs', with_gt=False)]
model = dict(type='SelfPose3D', input_size=(160, 96), heatmap_size=(40, 24),
             root_head=dict(cube_shape=(8, 8, 4), mid_channels=4, threshold=0.0,
                            max_proposals=2, **space),
             pose_head=dict(cube_shape=(8, 8, 8), mid_channels=4),
             objective=dict(type='SelfPose3dObjective', attention_net=dict(depth=18)))
train_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=True,
    sampler=dict(type='EpochSeededSampler', shuffle=True),
    worker_init_fn=dict(type='multiview_worker_init_fn'),
    collate_fn=dict(type='multiview_collate'),
    dataset=dict(type='SyntheticMultiViewDataset', num_samples=8, num_people=(1, 2),
                 pipeline=pipeline, **space))
train_cfg = dict(by_epoch=True, max_epochs=3)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
custom_hooks = [dict(type='TrainingStageHook', stages=[
    dict(name='root', epochs=1, train=['root_net'], lr=1e-3,
         losses=dict(loss_root_syn=100.0, loss_root_cons=1.0)),
    dict(name='pose', epochs=2, train=['pose_net', 'attention'], lr=1e-3,
         losses=dict(loss_pose_hm=1.0, loss_attn=0.1, loss_pose_l1=0.01))])]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, save_best=None, max_keep_ckpts=-1))
param_scheduler = []
log_level = 'INFO'
"""


def _train(cfg, work_dir, *extra):
    cmd = [sys.executable, str(ROOT / 'tools' / 'train.py'), str(cfg), '--work-dir',
           str(work_dir), *extra]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _children(pid):
    out = subprocess.run(['pgrep', '-P', str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f'/proc/{pid}/stat')
    return stat.exists() and stat.read_text().split()[2] != 'Z'


def _weights(path):
    return torch.load(path, map_location='cpu')['state_dict']


def _wait_for_log(work_dir, text, proc, timeout=300):
    t0 = time.time()
    while time.time() - t0 < timeout:
        for log in Path(work_dir).rglob('*.log'):
            if text in log.read_text():
                return
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
        time.sleep(0.05)
    raise TimeoutError(text)


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='SIGKILL + /proc')
def test_kill_and_resume_is_bit_identical(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(CONFIG.format(root=ROOT.as_posix()))
    ref = _train(cfg, tmp_path / 'ref')
    assert ref.wait(600) == 0, ref.stdout.read().decode()[-3000:]

    # 1. SIGKILL in the middle of epoch 2; the data worker must die with the trainer
    run = tmp_path / 'run'
    proc = _train(cfg, run)
    _wait_for_log(run, 'Epoch(train) [2][3/8]', proc)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)
    assert workers and not [w for w in workers if _alive(w)], 'orphaned data workers'
    assert not (run / 'epoch_2.pth').exists()
    # 2. a kill during a save, as a non-atomic writer would leave it: a truncated
    # epoch_2.pth named by the pointer → resume falls back to epoch_1 with a warning
    good = (run / 'epoch_1.pth').read_bytes()
    (run / 'epoch_2.pth').write_bytes(good[:len(good) // 2])
    (run / 'last_checkpoint').write_text(str(run / 'epoch_2.pth'))
    with pytest.warns(UserWarning, match='incomplete'):
        assert find_resume_checkpoint(str(run)) == str(run / 'epoch_1.pth')
    (run / 'last_checkpoint').write_text('')  # an empty pointer: the same fallback
    with pytest.warns(UserWarning):
        assert find_resume_checkpoint(str(run)) == str(run / 'epoch_1.pth')
    resumed = _train(cfg, run, '--resume')
    assert resumed.wait(600) == 0, resumed.stdout.read().decode()[-3000:]

    a, b = _weights(tmp_path / 'ref' / 'epoch_3.pth'), _weights(run / 'epoch_3.pth')
    assert a.keys() == b.keys()
    extra = 'objective._extra_state'  # the objective's random stream is saved
    assert torch.equal(a.pop(extra), b.pop(extra))
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, different[:5]
