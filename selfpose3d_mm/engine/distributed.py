"""Distributed runs of ``tools/train.py`` / ``tools/test.py`` (``--launcher pytorch|slurm``).

mmengine starts the process group itself (``Runner.setup_env`` → ``init_dist``) with the
config's ``env_cfg.dist_cfg.backend`` (NCCL in ``configs/_base_/default_runtime.py``) and
wraps the model in ``MMDistributedDataParallel(device_ids=[LOCAL_RANK])``. Both assume a
GPU per process: ``init_dist`` calls ``torch.cuda.set_device`` and NCCL needs CUDA. On a
machine without a GPU, :func:`configure_distributed` makes the same run work on CPU
processes: the gloo backend, the process group started here from torchrun's environment
(``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``; mmengine then finds it
started and only reads rank and world size), and DDP without ``device_ids``.

Training also sets ``find_unused_parameters=True`` unless the config chooses: the stages
of ``TrainingStageHook`` freeze modules after DDP has registered their parameters, and a
stage's losses leave the frozen modules without gradients, which plain DDP reports as an
error at the next iteration. ``docs/distributed.md`` has the commands.
"""
from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as torch_dist

__all__ = ['configure_distributed']


def configure_distributed(cfg, training: bool) -> None:
    """Adapt ``cfg`` (an mmengine ``Config`` whose ``launcher`` is set) to the machine.

    Nothing happens for ``launcher='none'``. Without CUDA: ``env_cfg.dist_cfg.backend``
    becomes ``'gloo'``, a ``pytorch`` launch starts its gloo process group here and the
    model wrapper gets ``device_ids=None``; ``slurm`` / ``mpi`` launches and
    ``sync_bn`` (SyncBatchNorm runs on GPUs only) are refused with a message.

    Raises:
        SystemExit: a launch or setting that cannot run without a GPU.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none':
        return
    if training and cfg.get('find_unused_parameters') is None:
        cfg.find_unused_parameters = True
    if torch.cuda.is_available():
        return
    env_cfg = cfg.get('env_cfg') or {}
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'  # NCCL needs CUDA
    cfg.env_cfg = env_cfg
    if launcher != 'pytorch':
        raise SystemExit(f'--launcher {launcher} without a GPU: mmengine starts this launch '
                         'with torch.cuda.set_device; on CPU machines launch with torchrun '
                         '(--launcher pytorch, tools/dist_train.sh / tools/dist_test.sh)')
    if cfg.get('sync_bn'):
        raise SystemExit(f'sync_bn={cfg.sync_bn!r} without a GPU: torch\'s SyncBatchNorm '
                         'runs on GPUs only; drop the option on CPU machines')
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise SystemExit(f'--launcher pytorch: environment variables {missing} are not set; '
                         'start the tool through torchrun (tools/dist_train.sh, '
                         'tools/dist_test.sh)')
    if not torch_dist.is_initialized():
        timeout = (env_cfg.get('dist_cfg') or {}).get('timeout')
        kwargs = {} if timeout is None else dict(
            timeout=datetime.timedelta(seconds=timeout))
        torch_dist.init_process_group(backend='gloo', **kwargs)
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.update(device_ids=None)  # CPU modules: DDP refuses device ids
    if training:
        wrapper.setdefault('find_unused_parameters', cfg.find_unused_parameters)
    wrapper.setdefault('broadcast_buffers', False)  # as mmengine's default wrapper
    cfg.model_wrapper_cfg = wrapper
