"""Shared helpers of the benchmarks: machine description, atomic JSON results."""
from __future__ import annotations

import json
import os
import os.path as osp
import platform
import sys
import time
from contextlib import contextmanager

import torch

from selfpose3d_mm.utils import atomic_open

RESULTS_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'results')


def machine() -> dict:
    """What the numbers were measured on."""
    info = dict(platform=platform.platform(), python=platform.python_version(),
                torch=torch.__version__, cpu_threads=torch.get_num_threads(),
                cpu_count=os.cpu_count())
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(0)
    return info


def write_result(name: str, result: dict, results_dir: str = RESULTS_DIR) -> str:
    """Write ``results_dir/name`` atomically (temp file + rename); returns the path."""
    path = osp.join(results_dir, name)
    with atomic_open(path) as f:
        json.dump(result, f, indent=2, sort_keys=False)
        f.write('\n')
    return path


def sync(device) -> None:
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


@contextmanager
def timed(store: dict, key: str, device='cpu'):
    """Adds the wall time of the block (seconds, device-synchronised) to ``store[key]``."""
    sync(device)
    t = time.perf_counter()
    yield
    sync(device)
    store[key] = store.get(key, 0.0) + time.perf_counter() - t


def best_of(fn, repeats: int, device='cpu') -> float:
    """Minimum wall time of ``fn()`` over ``repeats`` runs (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return min(times)


METRIC_KEYS = ('AP25', 'AP50', 'AP75', 'AP100', 'AP125', 'AP150', 'Recall@500', 'MPJPE')


def train_and_test(config: str, work_dir: str, cfg_options=(), test_options=(),
                   log_file=None) -> dict:
    """Train with ``tools/train.py`` (a subprocess, exactly the user's command; wall time
    measured), then evaluate the last checkpoint on the config's test split with
    ``tools/test.py``'s runner. Returns ``{metric keys..., 'train_s', 'checkpoint'}``."""
    import glob
    import subprocess

    from mmengine.config import Config
    from mmengine.runner import Runner

    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    cmd = [sys.executable, osp.join(root, 'tools', 'train.py'), config, '--work-dir', work_dir]
    if cfg_options:
        cmd += ['--cfg-options', *cfg_options]
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get('PYTHONPATH', ''))
    t = time.perf_counter()
    with open(log_file or os.devnull, 'w') as log:
        subprocess.run(cmd, check=True, env=env, stdout=log, stderr=subprocess.STDOUT)
    train_s = time.perf_counter() - t
    ckpts = sorted(glob.glob(osp.join(work_dir, 'epoch_*.pth')),
                   key=lambda p: int(osp.basename(p)[6:-4]))
    cfg = Config.fromfile(config)
    opts = dict(o.split('=', 1) for o in (*cfg_options, *test_options))
    if opts:
        from mmengine.config import DictAction
        cfg.merge_from_dict({k: DictAction._parse_iterable(v) for k, v in opts.items()})
    cfg.work_dir = osp.join(work_dir, 'test')
    cfg.load_from = ckpts[-1]
    metrics = Runner.from_cfg(cfg).test()
    out = {k: float(metrics[k]) for k in METRIC_KEYS}
    out.update(train_s=train_s, checkpoint=osp.relpath(ckpts[-1], root))
    return out


def train_with_tool(config: str, work_dir: str, cfg_options=(), extra_args=(),
                    reuse: bool = False, pattern: str = 'epoch_*.pth') -> dict:
    """``tools/train.py CONFIG --work-dir WORK_DIR [EXTRA] [--cfg-options ...]`` (the
    user's command, a subprocess; its output in ``WORK_DIR/train_stdout.log``), recorded
    in ``WORK_DIR/benchmark_train.json`` (reused with ``reuse``). Returns ``train_s``,
    ``checkpoint`` (the last one matching ``pattern``, relative to the repository) and
    ``command``."""
    import glob
    import subprocess
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    record = osp.join(work_dir, 'benchmark_train.json')
    if reuse and osp.exists(record):
        return json.load(open(record))
    os.makedirs(work_dir, exist_ok=True)
    args = [config, '--work-dir', work_dir, *extra_args,
            *(['--cfg-options', *cfg_options] if cfg_options else [])]
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get('PYTHONPATH', ''))
    t = time.perf_counter()
    with open(osp.join(work_dir, 'train_stdout.log'), 'w') as log:
        subprocess.run([sys.executable, osp.join(root, 'tools', 'train.py'), *args],
                       check=True, env=env, stdout=log, stderr=subprocess.STDOUT)
    number = lambda p: int(''.join(c for c in osp.basename(p) if c.isdigit()))  # noqa: E731
    ckpts = sorted(glob.glob(osp.join(work_dir, pattern)), key=number)
    rel = lambda p: osp.relpath(p, root) if osp.isabs(p) else p  # noqa: E731
    out = dict(train_s=time.perf_counter() - t, checkpoint=rel(ckpts[-1]),
               command=' '.join(['python tools/train.py', *map(rel, args)]))
    with atomic_open(record) as f:
        json.dump(out, f, indent=2)
    return out


def test_with_runner(cfg, checkpoint, work_dir: str) -> dict:
    """``tools/test.py``'s runner on a config object (no visualizer backends): the metrics
    plus ``test_s``, the wall time of the whole run."""
    from mmengine.runner import Runner
    cfg.work_dir = work_dir
    cfg.load_from = checkpoint
    cfg.visualizer = dict(type='Visualizer', vis_backends=[])
    t = time.perf_counter()
    metrics = Runner.from_cfg(cfg).test()
    return dict({k: float(v) for k, v in metrics.items()}, test_s=time.perf_counter() - t)

