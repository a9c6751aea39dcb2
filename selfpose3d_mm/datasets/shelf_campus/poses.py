"""Sources of the 3D poses that VoxelPose-style synthetic training places in a real rig.

One config knob, ``poses=dict(type=..., ...)``:

- ``'bank'``: ``panoptic_training_pose.pkl`` (VoxelPose's bank of Panoptic GT poses,
  COCO-17 → Panoptic-15). ``path`` required.
- ``'generator'``: the synthetic world's :class:`~..synthetic.body.PeopleSequence`
  (anthropometric people walking, standing, crouching, reaching), sampled at
  ``num_times`` random instants for ``num_people`` people: a bank of
  ``num_people × num_times`` poses for when no (or a tiny) bank is at hand. Knobs:
  ``num_people``, ``num_times``, ``duration`` (s), ``body`` (PeopleSequence knobs).
- ``'predictions'``: a model's own 3D poses dumped by
  ``tools/test.py CONFIG CKPT --out preds.npz`` (or ``.json``; also the inferencer's
  ``poses3d.npz`` / ``poses3d.json``; a legacy ``.pkl`` dump is read through the
  restricted unpickler of :mod:`selfpose3d_mm.io.safe_pickle`) (SelfPose3d's pseudo-3D
  protocol: the bank comes from a self-supervised model instead of 3D ground truth).
  ``path`` required; ``score_threshold`` keeps confident poses only (default 0.3).

``bank`` and legacy ``predictions`` pickles never run code: a pickle naming anything
but plain data (containers, scalars, numpy arrays) is refused with an error naming the
file and the refused global.

Every source returns Panoptic-15 poses (N, 15, 3) in world mm (z up, floor at z ≈ 0) and
their joint validity (N, 15); placement re-centres and rotates them.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from selfpose3d_mm.io import load_pose_bank, load_predicted_poses
from ..synthetic.body import PeopleSequence

__all__ = ['build_pose_source', 'GENERATOR_DEFAULTS']

GENERATOR_DEFAULTS = dict(num_people=32, num_times=64, duration=600.0, body=dict())


def _generator_poses(rng: np.random.Generator, num_people: int, num_times: int,
                     duration: float, body: dict) -> np.ndarray:
    """(num_people · num_times, 15, 3) poses of a PeopleSequence at random instants."""
    side = float(np.sqrt(num_people) * 2500.0)  # roomy floor: placement is redone anyway
    people = PeopleSequence(rng, int(num_people), (0.0, 0.0, 0.0), (side, side, 2000.0),
                            **body)
    t = np.sort(rng.uniform(0.0, float(duration), int(num_times)))
    return people.joints(t).reshape(-1, 15, 3)


def build_pose_source(cfg: dict, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Poses (N, 15, 3) float64 mm and validity (N, 15) bool from a ``poses`` config.

    Args:
        cfg: ``dict(type='bank'|'generator'|'predictions', ...)`` (see the module doc).
        rng: randomness of the generator source (the files are read as they are).
    """
    cfg = dict(cfg)
    kind = cfg.pop('type', None)
    if kind in ('bank', 'predictions'):
        if 'path' not in cfg:
            raise ValueError(f"poses of type {kind!r} need `path`")
        path = cfg.pop('path')
        thr = cfg.pop('score_threshold', 0.3) if kind == 'predictions' else None
        if cfg:
            raise ValueError(f'poses of type {kind!r}: unknown key(s) {sorted(cfg)}')
        return load_pose_bank(path) if kind == 'bank' else load_predicted_poses(path, thr)
    if kind == 'generator':
        unknown = sorted(set(cfg) - set(GENERATOR_DEFAULTS))
        if unknown:
            raise ValueError(f"poses of type 'generator': unknown key(s) {unknown}; known "
                             f'{sorted(GENERATOR_DEFAULTS)}')
        k = {**GENERATOR_DEFAULTS, **cfg}
        poses = _generator_poses(rng, k['num_people'], k['num_times'], k['duration'],
                                 dict(k['body']))
        return poses, np.ones(poses.shape[:2], bool)
    raise ValueError(f"poses type must be 'bank', 'generator' or 'predictions', got {kind!r}")
