"""Pairs of person crops for the synchronisation + flip pretext (Jenni & Favaro,
"Self-Supervised Multi-View Synchronization Learning for 3D Pose Estimation";
docs/pretext.md).

An item is two square crops of the same person seen by two views of the rig:

* **synchronized** (probability ``sync_prob``): both at the same instant, so the two
  images are related by the rigid transformation between the cameras;
  ``gt_sync = 1``. With probability ``flip_prob`` one of the two crops (either, 50:50)
  is mirrored horizontally: ``gt_flip = 1`` and ``gt_sync = -1`` (a flipped pair does
  not train the synchronisation head); otherwise ``gt_flip = 0``;
* **not synchronized**: the same view pair, the second crop ``d_min < |t2 - t1| <
  d_max`` source frames later or earlier (the paper: 4 and 128 frames); ``gt_sync = 0``,
  ``gt_flip = -1`` (never flipped; the flip head learns from synchronized pairs only).

The same person in the two views of an instant is found by epipolar geometry
(:meth:`.MultiViewClips.matches`); at the other instant it is the person of the second
view whose colours (hue-saturation histogram of the foreground) are the nearest to the
matched crop's, so that a non-synchronized pair shows the same person too (the network
cannot tell the classes apart by identity).

Background shortcuts (the static background tells the views apart, not the pose) are
removed per item, 50:50 (``substitute_prob``): **removal** keeps the foreground pixels
(median background, :mod:`.clips`) and fills the rest with noise or a constant;
**substitution** puts another view's median background under the foreground.
``background='remove'`` / ``'substitute'`` use one of them only, ``'none'`` keeps the
frames as they are (the "without background removal" ablation).

Every random choice of item ``i`` is drawn from its own generator, seeded by the
``(index, seed)`` pair of :class:`~selfpose3d_mm.datasets.EpochSeededSampler` (a pure
function of (seed, epoch, index): identical with any number of workers and after a
resume), or by ``(seed, 0, i)`` for a plain index (a fixed validation set).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.structures import BaseDataElement
from mmpose.registry import DATASETS

from ..samplers import sample_seed
from .clips import MultiViewClips
from .people import appearance, crop_square, nearest_appearance

__all__ = ['SyncFlipPairDataset']

BACKGROUND_MODES = ('mix', 'remove', 'substitute', 'none')


@DATASETS.register_module()
class SyncFlipPairDataset(BaseDataset):
    """Synchronized / not synchronized / flipped crop pairs of a multi-view dataset.

    Args:
        dataset: config (or instance) of the multi-view dataset, with images
            (``SyntheticMultiViewDataset(with_images=True)``, ``CustomRigDataset`` with
            images or videos, ...).
        crop_size: side of the square crops (px).
        d_min, d_max: the time offset of a non-synchronized pair, in source frames
            (exclusive bounds).
        sync_prob: share of synchronized pairs.
        flip_prob: share of flipped pairs among the synchronized ones.
        background: ``'mix'`` (removal or substitution per item), ``'remove'``,
            ``'substitute'``, ``'none'`` (frames as they are).
        substitute_prob: share of substitution under ``'mix'``.
        fill: ``'noise'`` (uniform RGB noise) or ``'constant'`` (``fill_value``) where the
            background is removed.
        fill_value: RGB of ``fill='constant'``.
        num_samples: items per epoch (default: one per frame of the dataset); item ``i``
            starts from frame ``i * frames // num_samples``.
        seed: seed of the items drawn for a plain index.
        max_refetch: frames tried before giving up when a frame has no person seen in
            two views (or no partner frame in time).
        clips: arguments of :class:`~.clips.MultiViewClips` (``frame_scale``,
            ``background_frames``, ``fg_threshold``, ``box_padding``, ...).
        kwargs: mmengine ``BaseDataset`` arguments (``test_mode``, ``lazy_init``, ...).
    """

    METAINFO = dict(dataset_name='sync_flip_pairs')

    def __init__(self, dataset: Union[dict, BaseDataset], crop_size: int = 128,
                 d_min: float = 4, d_max: float = 128, sync_prob: float = 0.5,
                 flip_prob: float = 0.5, background: str = 'mix',
                 substitute_prob: float = 0.5, fill: str = 'noise',
                 fill_value: Sequence[int] = (124, 116, 104),
                 num_samples: Optional[int] = None, seed: int = 0, max_refetch: int = 20,
                 clips: Optional[dict] = None, **kwargs):
        if background not in BACKGROUND_MODES:
            raise ValueError(f'SyncFlipPairDataset: background must be one of '
                             f'{BACKGROUND_MODES}, got {background!r}')
        if fill not in ('noise', 'constant'):
            raise ValueError(f"SyncFlipPairDataset: fill must be 'noise' or 'constant', "
                             f'got {fill!r}')
        if not 0 <= float(d_min) < float(d_max):
            raise ValueError(f'SyncFlipPairDataset: need 0 <= d_min < d_max, got '
                             f'({d_min}, {d_max})')
        self.crop_size = int(crop_size)
        self.d_min, self.d_max = float(d_min), float(d_max)
        self.sync_prob, self.flip_prob = float(sync_prob), float(flip_prob)
        self.background, self.substitute_prob = background, float(substitute_prob)
        self.fill, self.fill_value = fill, np.asarray(fill_value, np.uint8).reshape(3)
        self.num_samples = None if num_samples is None else int(num_samples)
        self.seed, self.max_refetch = int(seed), int(max_refetch)
        self.clips = MultiViewClips(dataset, **(clips or {}))
        if self.clips.num_views < 2:
            raise ValueError('SyncFlipPairDataset: the dataset needs at least two views')
        kwargs.setdefault('serialize_data', False)
        super().__init__(**kwargs)

    def load_data_list(self) -> list:
        n = len(self.clips)
        num = n if self.num_samples is None else self.num_samples
        if n == 0 or num <= 0:
            raise ValueError('SyncFlipPairDataset: no frame to draw pairs from')
        return [dict(frame=int(i * n // num) if num <= n else int(i % n)) for i in range(num)]

    # ------------------------------------------------------------------ items
    def __getitem__(self, idx):
        """``dataset[i]`` or ``dataset[(i, seed)]`` (:class:`EpochSeededSampler`)."""
        index, seed = idx if isinstance(idx, tuple) else (idx, sample_seed(self.seed, 0, idx))
        if not self._fully_initialized:
            self.full_init()
        rng = np.random.default_rng(int(seed))
        index = int(index)
        for _ in range(self.max_refetch + 1):
            plan = self.plan(index, rng)
            if plan is not None:
                return self.pack(plan, *self.render(plan))
            index = int(rng.integers(len(self)))
        raise RuntimeError(f'SyncFlipPairDataset: no pair found in {self.max_refetch + 1} '
                           'frames: are people seen by two views (check the foreground '
                           'masks, the pseudo poses and the calibration)?')

    def plan(self, index: int, rng: np.random.Generator) -> Optional[dict]:
        """Every random choice of an item starting from item ``index`` (None: this frame
        gives no pair). Keys: ``frames`` (dataset indices of the two crops), ``views``,
        ``boxes`` (loaded px), ``sync``, ``flip``, ``flip_side`` (-1: none),
        ``background``, ``substitute_views``, ``fill_seed``, ``gt_sync``, ``gt_flip``."""
        clips = self.clips
        f1 = int(self.get_data_info(index)['frame'])
        sync = bool(rng.random() < self.sync_prob)
        partner = None
        if not sync:
            partners = clips.index.partners(f1, self.d_min, self.d_max)
            if not len(partners):
                return None
            partner = int(partners[rng.integers(len(partners))])
        frame = clips.frame(f1)
        C = len(frame.images)
        for k in rng.permutation(C * (C - 1)):  # ordered view pairs, random order
            va, vb = divmod(int(k), C - 1)
            vb += vb >= va
            pairs = clips.matches(frame, va, vb)
            if pairs:
                break
        else:
            return None
        pa, pb = pairs[int(rng.integers(len(pairs)))]
        box_a = clips.people(frame, va)['boxes'][pa]
        box_b = clips.people(frame, vb)['boxes'][pb]
        f2 = f1
        if not sync:
            box_b = self._same_person_later(frame, vb, box_b, partner)
            if box_b is None:
                return None
            f2 = partner
        flip = sync and bool(rng.random() < self.flip_prob)
        mode = self.background
        if mode == 'mix':
            mode = 'substitute' if rng.random() < self.substitute_prob else 'remove'
        others = [[v for v in range(C) if v != own] for own in (va, vb)]
        return dict(
            frames=(f1, f2), views=(va, vb), boxes=(box_a, box_b), sync=sync, flip=flip,
            flip_side=int(rng.integers(2)) if flip else -1, background=mode,
            substitute_views=tuple(int(o[rng.integers(len(o))]) for o in others),
            fill_seed=int(rng.integers(2 ** 31)),
            gt_sync=(-1 if flip else 1) if sync else 0, gt_flip=int(flip) if sync else -1)

    def _same_person_later(self, frame, view: int, box, other: int):
        """The box of the person of ``view`` at frame ``other`` who looks the most like the
        person ``box`` of ``frame`` (None: nobody there)."""
        later = self.clips.frame(other)
        boxes = self.clips.people(later, view)['boxes']
        if len(boxes) <= 1:
            return boxes[0] if len(boxes) else None
        ref = appearance(frame.images[view], box, self.clips.foreground(frame, view))
        mask = self.clips.foreground(later, view)
        j, _ = nearest_appearance(ref, [appearance(later.images[view], b, mask) for b in boxes])
        return boxes[j]

    def render(self, plan: dict) -> Tuple[np.ndarray, np.ndarray]:
        """The two (S, S, 3) uint8 RGB crops of a plan."""
        S, clips, out = self.crop_size, self.clips, []
        rng = np.random.default_rng(plan['fill_seed'])
        for k in range(2):
            frame = clips.frame(plan['frames'][k])
            view, box, flip = plan['views'][k], plan['boxes'][k], plan['flip_side'] == k
            mode = plan['background']
            img, mask = clips.crop(frame, view, box, S, flip, with_mask=mode != 'none')
            if mode == 'remove':
                fill = (rng.integers(0, 256, img.shape, dtype=np.uint8) if self.fill == 'noise'
                        else np.broadcast_to(self.fill_value, img.shape))
                img = np.where(mask[..., None], img, fill)
            elif mode == 'substitute':
                bg = clips.background(frame.sequence)[0][plan['substitute_views'][k]]
                cx, cy, side = clips.square(box)
                img = np.where(mask[..., None], img, crop_square(bg, (cx, cy), side, S, flip))
            out.append(np.ascontiguousarray(img, dtype=np.uint8))
        return out[0], out[1]

    def pack(self, plan: dict, crop_a: np.ndarray, crop_b: np.ndarray) -> dict:
        """``inputs`` (2, 3, S, S) uint8 RGB and ``data_samples`` (``gt_sync``,
        ``gt_flip`` long scalars, the plan in the metainfo)."""
        inputs = torch.from_numpy(np.stack([crop_a, crop_b])).permute(0, 3, 1, 2).contiguous()
        keys = [self.clips.index.keys[f] for f in plan['frames']]
        meta = dict(frames=plan['frames'], views=plan['views'],
                    sequence=keys[0][0], times=(keys[0][1], keys[1][1]),
                    boxes=tuple(np.asarray(b, np.float32).tolist() for b in plan['boxes']),
                    sync=plan['sync'], flip=plan['flip'], flip_side=plan['flip_side'],
                    background=plan['background'],
                    substitute_views=plan['substitute_views'])
        sample = BaseDataElement(metainfo=meta)
        sample.gt_sync = torch.tensor(plan['gt_sync'], dtype=torch.long)
        sample.gt_flip = torch.tensor(plan['gt_flip'], dtype=torch.long)
        return dict(inputs=inputs, data_samples=sample)
