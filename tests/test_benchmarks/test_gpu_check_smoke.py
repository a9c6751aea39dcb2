"""benchmarks/gpu_check.sh --cpu-smoke: the GPU readiness check runs end to end at tiny
sizes on the CPU (so it cannot rot between GPU runs) and writes only where it is told."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULT = ROOT / 'benchmarks' / 'results' / 'gpu.json'


@pytest.mark.skipif(shutil.which('bash') is None or shutil.which('timeout') is None,
                    reason='needs bash and coreutils timeout')
def test_gpu_check_cpu_smoke(tmp_path):
    before = RESULT.stat().st_mtime_ns if RESULT.exists() else None
    out = tmp_path / 'gpu.json'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable)
    proc = subprocess.run(['bash', str(ROOT / 'benchmarks' / 'gpu_check.sh'), '--cpu-smoke',
                           '--out', str(out)], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=300)
    log = proc.stdout.decode()
    assert proc.returncode == 0, log[-4000:]
    r = json.loads(out.read_text())
    assert r['smoke'] and r['device'] == 'cpu' and r['errors'] == {}, r['errors']
    assert r['config'] == 'configs/selfpose3d_panoptic.py'
    for amp in ('off', 'on'):
        inf = r[f'inference_amp_{amp}']
        assert inf['largest_batch'] == 2  # doubled up to the smoke cap
        for bs in (1, 2):
            b = inf[f'batch_{bs}']
            assert b['fps'] > 0 and b['finite']
            assert b['proposals_per_frame'] == r['max_proposals']  # all through the pose net
    stages = ['heatmap_net_2d', 'root_net', 'pose_l2', 'pose_l2_l1', 'hard_labels']
    for amp in ('off', 'on'):
        for s in stages:
            t = r[f'train_{s}_amp_{amp}']
            assert t['s_per_step'] > 0 and t['losses'], (s, amp, t)
            # bfloat16 on the CPU can overflow the tiny random model's losses now and then
            # (the GPU run uses float16 with a gradient scaler); full precision must not
            assert t['finite'] or amp == 'on', (s, amp, t)
            assert t['trainable_parameters_M'] > 0
    # each stage trains what it should: the 2D net alone < the end-to-end stages
    assert r['train_heatmap_net_2d_amp_off']['trainable_parameters_M'] < \
        r['train_pose_l2_amp_off']['trainable_parameters_M']
    assert set(r['train_root_net_amp_off']['losses']) == {'loss_root_syn', 'loss_root_cons'}
    unp = r['unprojection']
    for case in ('root_cube_cached_grid', 'person_cubes'):
        assert unp[case]['max_abs_diff'] < 1e-5 and unp[case]['speedup'] > 0
    # the smoke run never touches the GPU result file
    assert (RESULT.stat().st_mtime_ns if RESULT.exists() else None) == before


def test_cpu_smoke_refuses_to_write_into_results():
    proc = subprocess.run([sys.executable, str(ROOT / 'benchmarks' / 'gpu_check.py'),
                           '--cpu-smoke', '--out', str(RESULT)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 2 and b'writes no result into' in proc.stdout
