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


def _cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``; else ``platform.processor()``): the
    same 2-core budget runs ~1.6x slower on some CPU families than on others."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine() -> dict:
    """What the numbers were measured on."""
    info = dict(platform=platform.platform(), python=platform.python_version(),
                torch=torch.__version__, cpu_threads=torch.get_num_threads(),
                cpu_count=os.cpu_count(), cpu=_cpu_model())
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


def train_and_test(config: str, work_dir: str, cfg_options=(), test_options=()) -> dict:
    """:func:`train_with_tool` (the user's ``tools/train.py``, wall time measured), then
    :func:`test_with_runner` on the last ``epoch_*.pth`` with the config's test split
    (``cfg_options`` and ``test_options`` merged). Returns the metric keys, ``train_s``,
    ``checkpoint`` and ``command``."""
    from mmengine.config import Config, DictAction
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    info = train_with_tool(config, work_dir, cfg_options)
    cfg = Config.fromfile(config)
    opts = dict(o.split('=', 1) for o in (*cfg_options, *test_options))
    if opts:
        cfg.merge_from_dict({k: DictAction._parse_iterable(v) for k, v in opts.items()})
    metrics = test_with_runner(cfg, osp.join(root, info['checkpoint']),
                               osp.join(work_dir, 'test'))
    return dict({k: float(metrics[k]) for k in METRIC_KEYS}, **info)


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


def set_row_refinement(cfg, refine: bool) -> None:
    """A learned row's refinement as the row says, not as its config says: sets
    ``model.test_cfg.refine`` of a SelfPose3D config (others are left as they are)."""
    if cfg.model.get('type') == 'SelfPose3D':
        cfg.model.test_cfg = dict(cfg.model.get('test_cfg') or {},
                                  refine=dict() if refine else None)


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

