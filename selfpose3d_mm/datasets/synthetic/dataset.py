"""The synthetic multi-view world: the package's embedded default dataset.

A studio rig (generated ring, named layout or any real calibration) films sequences of
moving people, or every sequence gets a rig and a capture space of its own (randomised
rigs, :mod:`.layouts`); each frame yields the same sample structure as the real
datasets: per-view cameras, simulated 2D pseudo poses from an imperfect detector,
optional rendered images, and the 3D ground truth of the people inside the capture space
(for evaluation only). Everything is generated on the fly and is a pure function of
(seed, rig_seed, split, index).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmpose.registry import DATASETS

from selfpose3d_mm.skeleton import PANOPTIC15_ROOT_INDEX
from ..base_multiview import BaseMultiViewDataset
from .body import PeopleSequence
from .rig_config import LayoutRig, build_rig_world, check_random_rig, draw_random_rig
from .pseudo2d import simulate_pseudo_2d
from .render import render_views

__all__ = ['SyntheticMultiViewDataset']

_SPLITS = {'train': 0, 'val': 1, 'test': 2}


_MAX_CACHED_SEQUENCES = 64  # people, colours and (random rigs) the rig of a sequence


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


class _Sequence(NamedTuple):
    people: PeopleSequence
    colors: np.ndarray
    world: LayoutRig           # the rig and the capture space the sequence is filmed in
    rig_id: Optional[str]      # set for a per-sequence rig; None: the dataset's memo


@DATASETS.register_module()
class SyntheticMultiViewDataset(BaseMultiViewDataset):
    """Synthetic multi-person multi-view frames.

    Args:
        split: ``'train'``, ``'val'``, ``'test'`` (or an int): selects an independent
            random stream, so splits never share sequences.
        seed: base seed of the people, motion and pseudo-2D draws.
        num_samples: frames in the dataset.
        frames_per_sequence: consecutive frames of one sequence (same people).
        frame_interval: frames skipped between samples (at ``fps``).
        num_people: (min, max) people inside the capture space per sequence.
        outside_prob / max_outside: probability that a sequence has bystanders standing
            outside the capture space (seen by the cameras, not part of the GT), and
            their maximum count.
        rig: camera rig config: ``None`` = the generated studio ring
            (:func:`~.rig.make_ring_rig`); ``dict(type='file', path=..., ...)`` for a
            real calibration; ``dict(type='layout', name='dome8')`` for a named layout
            and ``dict(type='layout', layout='corner', num_views=4, ...)`` for one rig
            of a layout family (:func:`~.layouts.build_rig_world`); or
            ``dict(type='random', num_views=(3, 8), layouts=(...), space_size=(...),
            ...)`` (:data:`~.layouts.RANDOM_RIG_DEFAULTS`): a new rig *and* capture
            space per sequence, drawn from (``rig_seed``, split, sequence), so the
            splits never share a rig.
        rig_seed: seed of the rig: a fixed rig is the same across splits (one studio);
            random rigs differ per split and sequence.
        body: knobs of :class:`~.body.PeopleSequence`.
        pseudo2d: knobs of :func:`~.pseudo2d.simulate_pseudo_2d`; the world's detector
            profile is ``'realistic'`` unless ``pseudo2d`` names another one
            (``profile='mild'``: the kinder simulator of earlier releases).
        with_images: render images (the image path); otherwise heatmap-input mode.
        render: knobs of :func:`~.render.render_views`.
        space_center, space_size: the capture space (mm). Precedence: a rig dict's own
            ``space_center`` / ``space_size`` > a named layout's space > these
            arguments; a random rig draws each sequence's space from its ``space_size``
            / ``space_center`` entries, these arguments filling the entries left None.

    Attributes:
        cameras: the rig of a fixed rig (ring, file, layout). ``None`` with random rigs:
            each frame's rig is its sample's ``cameras`` (``frame_info(i)['cameras']``).
        space_center, space_size: the space of a fixed rig (a named layout's); with
            random rigs only the defaults of the draws: each sample carries its own.

    Frames of one sequence (``frames_per_sequence``) share its rig, its space and its
    people. Random rigs have 3-8 views, and frames with different numbers of views
    cannot be batched (:func:`~selfpose3d_mm.datasets.multiview_collate` raises): use
    ``batch_size=1``, or a single ``num_views``.
    """

    def __init__(self, split: Union[str, int] = 'train', seed: int = 0,
                 num_samples: int = 1000, frames_per_sequence: int = 50,
                 frame_interval: int = 6, fps: float = 30.0,
                 num_people: Tuple[int, int] = (1, 5), outside_prob: float = 0.3,
                 max_outside: int = 2, rig: Optional[dict] = None, rig_seed: int = 0,
                 body: Optional[dict] = None, pseudo2d: Optional[dict] = None,
                 with_images: bool = False, render: Optional[dict] = None,
                 space_center: Sequence[float] = (0.0, 0.0, 800.0),
                 space_size: Sequence[float] = (6000.0, 6000.0, 2000.0), **kwargs):
        if isinstance(split, str) and split not in _SPLITS:
            raise ValueError(f'split must be one of {list(_SPLITS)} or an int, got {split!r}')
        self.split_id = _SPLITS[split] if isinstance(split, str) else int(split)
        self.split = split
        self.seed = int(seed)
        self.num_samples = int(num_samples)
        self.frames_per_sequence = max(1, int(frames_per_sequence))
        self.frame_interval = int(frame_interval)
        self.fps = float(fps)
        self.num_people = (int(num_people[0]), int(num_people[1]))
        if not 1 <= self.num_people[0] <= self.num_people[1]:
            raise ValueError(f'num_people must be (min, max) with 1 <= min <= max, got '
                             f'{num_people}')
        self.outside_prob, self.max_outside = float(outside_prob), int(max_outside)
        self.body = dict(body or {})
        self.pseudo2d = {'profile': 'realistic', **(pseudo2d or {})}
        self.with_images = bool(with_images)
        self.render = dict(render or {})
        self.rig_cfg = rig
        self.rig_seed = int(rig_seed)
        self.random_rig = isinstance(rig, dict) and rig.get('type') == 'random'
        self._sequences: 'OrderedDict[int, _Sequence]' = OrderedDict()
        super().__init__(space_center=space_center, space_size=space_size, **kwargs)
        if self.random_rig:  # one draw per sequence (_sequence); the knobs checked now
            self._random_cfg = check_random_rig({k: v for k, v in rig.items() if k != 'type'})
            self._world, self.cameras = None, None
        else:
            self._world = build_rig_world(rig, _rng(self.rig_seed, 7919), self.space_center,
                                          self.space_size)
            self.cameras = self._world.cameras
            self.space_center = tuple(float(v) for v in self._world.space_center)
            self.space_size = tuple(float(v) for v in self._world.space_size)

    def load_data_list(self) -> list:
        fps = self.frames_per_sequence
        return [dict(sample_idx=i, seq_idx=i // fps, frame_idx=(i % fps) * self.frame_interval)
                for i in range(self.num_samples)]

    def _sequence(self, seq: int) -> _Sequence:
        """People, colours and rig of a sequence, cached (at most
        ``_MAX_CACHED_SEQUENCES``: a random rig's cameras leave with their sequence)."""
        hit = self._sequences.get(seq)
        if hit is None:
            world, rig_id = self._world, None
            if self.random_rig:
                world = draw_random_rig(_rng(self.rig_seed, 7919, self.split_id, seq),
                                        self.space_center, self.space_size,
                                        **self._random_cfg)
                # the id BaseMultiViewDataset.rig_id would give, without its per-object
                # memo (which keeps every camera object it has seen)
                rig_id = f'{type(self).__name__}:{world.cameras.cache_key()[:16]}'
            rng = _rng(self.seed, self.split_id, seq)
            n_in = int(rng.integers(self.num_people[0], self.num_people[1] + 1))
            n_out = int(rng.integers(1, self.max_outside + 1)) if (
                self.max_outside > 0 and rng.random() < self.outside_prob) else 0
            people = PeopleSequence(rng, n_in, world.space_center, world.space_size,
                                    num_outside=n_out, **self.body)
            colors = rng.integers(40, 230, (n_in + n_out, 3)).astype(np.uint8)
            hit = _Sequence(people, colors, world, rig_id)
            self._sequences[seq] = hit
            while len(self._sequences) > _MAX_CACHED_SEQUENCES:
                self._sequences.popitem(last=False)
        return hit

    @staticmethod
    def _in_space(points: np.ndarray, center, size) -> np.ndarray:
        c, s = np.asarray(center), np.asarray(size)
        return (np.abs(points - c) <= s / 2).all(-1)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        seq, frame = info['seq_idx'], info['frame_idx']
        people, colors, world, rig_id = self._sequence(seq)
        joints = people.joints(np.array([frame / self.fps]))[0]  # (P, J, 3)
        P, J = joints.shape[:2]
        cams = world.cameras
        pts = torch.from_numpy(joints.reshape(1, -1, 3)).float()
        uv = cams.project(pts)[0].numpy().reshape(cams.num_views, P, J, 2)
        depth = cams.world_to_camera(pts)[0, ..., 2].numpy().reshape(cams.num_views, P, J)
        sizes = cams.image_size.numpy()
        focal = cams.K[:, 0, 0].numpy()
        rng = _rng(self.seed, self.split_id, seq, frame + 1)
        pseudo = simulate_pseudo_2d(rng, uv, depth, sizes, focal, **self.pseudo2d)
        # GT = people whose root (mid-hip) is inside the capture space
        inside = people.inside & self._in_space(joints[:, PANOPTIC15_ROOT_INDEX],
                                                world.space_center, world.space_size)
        gt = joints[inside].astype(np.float32)
        info.update(
            self._common_info(),
            frame_id=f'{self.split}_{seq:05d}_{frame:06d}',
            sequence=f'synthetic_{self.split}_{seq:05d}',
            cameras=cams,
            image_sizes=sizes.astype(np.float32),
            pseudo_keypoints=pseudo['keypoints'],
            pseudo_keypoint_scores=pseudo['scores'],
            pseudo_bbox_scores=pseudo['bbox_scores'],
            pseudo_source=pseudo['source'],
            gt_keypoints_3d=gt,
            gt_keypoints_3d_visible=np.ones(gt.shape[:2], bool),
            all_keypoints_3d=joints.astype(np.float32),
            space_center=tuple(world.space_center),
            space_size=tuple(world.space_size),
            rig_layout=world.layout,
        )
        if rig_id is not None:
            info['rig_id'] = rig_id
        if self.with_images:
            info['img'] = render_views(rng, uv, depth, sizes, focal, person_colors=colors,
                                       background_seed=self.rig_seed, **self.render)
        return info
