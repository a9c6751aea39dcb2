"""Checkpoints that survive a kill: atomic writes, a pointer updated after the rename, a
resume that falls back to the newest complete checkpoint, RNG states saved and restored.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
import random
import re
import warnings
import zipfile
from typing import Optional

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmpose.registry import HOOKS

from selfpose3d_mm.utils import atomic_open

__all__ = ['AtomicCheckpointHook', 'RandomStateHook', 'find_resume_checkpoint',
           'is_complete_checkpoint']


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) writing each checkpoint to a
    temporary file, fsynced and renamed onto its name, and only then ``last_checkpoint``
    (also atomically). A kill at any moment leaves the previous checkpoint and pointer
    intact. Local work dirs only (other backends are written as mmengine does)."""

    def _save_checkpoint_with_step(self, runner, step, meta):
        save = runner.save_checkpoint

        def atomic_save(out_dir, filename, *args, **kwargs):
            if not osp.isdir(out_dir):  # e.g. a remote backend: mmengine's own writer
                return save(out_dir, filename, *args, **kwargs)
            tmp = f'.{filename}.partial'
            save(out_dir, tmp, *args, **kwargs)
            src, dst = osp.join(out_dir, tmp), osp.join(out_dir, filename)
            if is_main_process():
                with open(src, 'rb') as f:
                    os.fsync(f.fileno())
                os.replace(src, dst)
                _fsync_dir(out_dir)

        runner.save_checkpoint = atomic_save  # shadows the method for this call only
        try:
            super()._save_checkpoint_with_step(runner, step, meta)
        finally:
            del runner.save_checkpoint
        if is_main_process() and self.last_ckpt is not None:
            with atomic_open(osp.join(runner.work_dir, 'last_checkpoint')) as f:
                f.write(self.last_ckpt)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Saves python's, numpy's and torch's (CPU and CUDA) global RNG states with every
    checkpoint and restores them on resume. (The training data and the objectives draw
    from their own seeded streams; this covers anything else that uses the globals.)"""

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(python=random.getstate(), numpy=np.random.get_state(),
                     torch=torch.get_rng_state())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint['rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('rng_state')
        if not state:
            return
        random.setstate(state['python'])
        np.random.set_state(state['numpy'])
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])


def is_complete_checkpoint(path: str) -> bool:
    """A checkpoint file torch wrote to the end (its zip archive's CRCs all check out)."""
    try:
        with zipfile.ZipFile(path) as z:
            return z.testzip() is None
    except (OSError, zipfile.BadZipFile):
        return False


def _step_of(path: str) -> int:
    m = re.search(r'(\d+)\.pth$', osp.basename(path))
    return int(m.group(1)) if m else -1


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` continues from: the one ``last_checkpoint`` names when
    it is complete, else (an empty, missing or dangling pointer, or a truncated file) the
    newest complete ``epoch_*.pth`` / ``iter_*.pth`` with a warning; None when there is
    none."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip() or None
        if named is not None and not osp.isabs(named) and not osp.exists(named):
            named = osp.join(work_dir, osp.basename(named))
        if named is not None and is_complete_checkpoint(named):
            return named
    candidates = sorted(glob.glob(osp.join(work_dir, 'epoch_*.pth')) +
                        glob.glob(osp.join(work_dir, 'iter_*.pth')),
                        key=lambda p: (_step_of(p), osp.getmtime(p)), reverse=True)
    for path in candidates:
        if is_complete_checkpoint(path):
            if osp.isfile(pointer) or named:
                warnings.warn(f'{pointer} names {named!r}, which is missing or incomplete; '
                              f'resuming from the newest complete checkpoint {path}')
            return path
    return None
