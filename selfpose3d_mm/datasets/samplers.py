"""Sampling that makes every training sample a pure function of (seed, epoch, index).

mmengine's ``DefaultSampler`` fixes the *order* of an epoch by ``seed + epoch``, but the
random augmentation of a sample (the view-sets' rotations and zooms, photometric
augmentation) is drawn from the data worker's global RNG, whose state depends on how
many samples that worker produced before — so it changes with ``num_workers``, with
persistent workers, and after a ``--resume``. :class:`EpochSeededSampler` hands each index
together with its own seed; :class:`~.BaseMultiViewDataset` runs the pipeline of that
sample under that seed (and restores the worker's RNG afterwards). A resumed run then
sees exactly the samples the uninterrupted run saw.
"""
from __future__ import annotations

import ctypes
import signal
import sys
from typing import Iterator, Tuple

import numpy as np
from mmengine.dataset import DefaultSampler
from mmengine.registry import FUNCTIONS
from mmpose.registry import DATA_SAMPLERS

__all__ = ['EpochSeededSampler', 'sample_seed', 'multiview_worker_init_fn']


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 32-bit seed for sample ``index`` of ``epoch`` (independent streams per triple)."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(epoch), int(index)])
    return int(ss.generate_state(1)[0])


@DATA_SAMPLERS.register_module()
class EpochSeededSampler(DefaultSampler):
    """``DefaultSampler`` (same order, same sharding) yielding ``(index, seed)`` pairs."""

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        for index in super().__iter__():
            yield int(index), sample_seed(self.seed, self.epoch, int(index))


@FUNCTIONS.register_module()
def multiview_worker_init_fn(worker_id: int) -> None:
    """Data workers die with their parent (Linux ``PR_SET_PDEATHSIG``): after a
    ``kill -9`` of the training process no worker is left behind. The per-sample seeds
    of :class:`EpochSeededSampler` make worker-level seeding unnecessary."""
    if sys.platform.startswith('linux'):
        libc = ctypes.CDLL('libc.so.6', use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
