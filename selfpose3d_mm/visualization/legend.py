"""Colours and legends shared by the pictures: who is who, what is input and what is output.

* **People** take the colours of :data:`PERSON_PALETTE` (matplotlib ``tab10`` without its
  grey), by *person id*: the ``track_id`` of a prediction when it has one (the same
  person keeps its colour across frames), else its index in the frame.
* **Grey** is kept for what is not a predicted person: the input 2D poses in the views,
  the capture-space box, people outside the GT in the 3D scene.
* **Cameras** are drawn in :data:`CAMERA_COLOR` (black), a colour no person takes.

A legend is a list of :class:`LegendEntry` (label, RGB colour, style): the drawing
functions return or accept them, so what a picture explains can be checked without
reading pixels. :func:`draw_legend_band` renders one as a strip under a montage.
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence, Tuple

import cv2
import matplotlib
import numpy as np

__all__ = ['LegendEntry', 'PERSON_PALETTE', 'CAMERA_COLOR', 'INPUT_2D_COLOR', 'SPACE_COLOR',
           'id_colors', 'person_ids', 'prediction_legend', 'scene_legend',
           'draw_legend_band']

RGB = Tuple[int, int, int]


class LegendEntry(NamedTuple):
    """One legend line: ``style`` is ``'pose'`` (thick line with joints), ``'input'``
    (thin semi-transparent line), ``'box'`` (solid box edge), ``'dashed'`` (dashed box
    edge) or ``'camera'`` (a frustum)."""
    label: str
    color: RGB
    style: str


_TAB10 = [tuple(int(round(255 * v)) for v in matplotlib.colormaps['tab10'](i)[:3])
          for i in range(10)]
PERSON_PALETTE: List[RGB] = [c for i, c in enumerate(_TAB10) if i != 7]  # no tab10 grey
CAMERA_COLOR: RGB = (0, 0, 0)
INPUT_2D_COLOR: RGB = (215, 215, 215)
SPACE_COLOR: RGB = (128, 128, 128)


def id_colors(ids: Sequence[int]) -> List[RGB]:
    """RGB uint8 colour of each person id (ids wrap around the palette)."""
    return [PERSON_PALETTE[int(i) % len(PERSON_PALETTE)] for i in ids]


def person_ids(n: int, track_ids: Optional[Sequence[int]] = None) -> List[int]:
    """The ids the pictures use: the track ids when given (one per person), else
    ``0..n-1``."""
    if track_ids is None:
        return list(range(n))
    ids = [int(i) for i in np.asarray(track_ids).reshape(-1)]
    if len(ids) != n:
        raise ValueError(f'{len(ids)} track ids for {n} persons')
    return ids


def prediction_legend(ids: Sequence[int], scores: Optional[Sequence[float]] = None,
                      with_input: bool = False, tracked: bool = False) -> List[LegendEntry]:
    """The legend of the view pictures: the input 2D poses (when drawn), then one entry
    per person (``'#id score'``) in its colour."""
    out = []
    if with_input:
        out.append(LegendEntry('input 2D poses', INPUT_2D_COLOR, 'input'))
    what = 'track' if tracked else 'person'
    for k, (i, c) in enumerate(zip(ids, id_colors(ids))):
        s = '' if scores is None else f' {float(scores[k]):.2f}'
        out.append(LegendEntry(f'3D reprojection, {what} #{i}{s}', c, 'pose'))
    if not ids:
        out.append(LegendEntry('3D reprojection: no person', PERSON_PALETTE[0], 'pose'))
    return out


def scene_legend(ids: Sequence[int], space: bool = True, search_cube: bool = False,
                 others: bool = False, tracked: bool = False,
                 people_label: str = 'person') -> List[LegendEntry]:
    """The legend of the 3D scene: people, other people, capture space, the network's
    search cube (when it differs from the space), cameras."""
    what = 'track' if tracked else people_label
    out = [LegendEntry(f'{what} #{i}', c, 'pose') for i, c in zip(ids, id_colors(ids))]
    if others:
        out.append(LegendEntry('other people (not in the GT)', SPACE_COLOR, 'input'))
    if space:
        out.append(LegendEntry('capture space', SPACE_COLOR, 'box'))
    if search_cube:
        out.append(LegendEntry('network search cube', SPACE_COLOR, 'dashed'))
    out.append(LegendEntry('cameras', CAMERA_COLOR, 'camera'))
    return out


def _swatch(img: np.ndarray, x: int, y: int, w: int, entry: LegendEntry, s: float):
    """Draw the entry's sample mark in ``[x, x + w]`` around row ``y`` (in place)."""
    c = tuple(int(v) for v in entry.color)
    lw = max(1, int(round(3 * s)))
    if entry.style == 'input':
        cv2.line(img, (x, y), (x + w, y), c, 1, cv2.LINE_AA)
        for px in (x, x + w):
            cv2.circle(img, (px, y), max(1, lw), c, -1, cv2.LINE_AA)
    elif entry.style == 'pose':
        cv2.line(img, (x, y), (x + w, y), c, lw, cv2.LINE_AA)
        for px in (x, x + w):
            cv2.circle(img, (px, y), lw + 1, c, -1, cv2.LINE_AA)
    elif entry.style == 'dashed':
        for a in range(x, x + w, 8):
            cv2.line(img, (a, y), (min(a + 4, x + w), y), c, 1, cv2.LINE_AA)
    else:  # box / camera: a small outline
        h = max(4, int(round(7 * s)))
        cv2.rectangle(img, (x + w // 4, y - h), (x + 3 * w // 4, y + h), c, 1, cv2.LINE_AA)


def draw_legend_band(entries: Sequence[LegendEntry], width: int, scale: float = 0.5,
                     background: RGB = (35, 35, 35)) -> np.ndarray:
    """A (h, width, 3) RGB strip with the entries left to right, wrapped to the width
    (text in white on a dark background, in black on a light one)."""
    s = max(0.4, float(scale))
    font, fs = cv2.FONT_HERSHEY_SIMPLEX, 0.45 * s / 0.4
    fs = min(fs, 0.8)
    sw, gap, pad = int(30 * fs / 0.45), int(18 * fs / 0.45), 6
    line_h = int(24 * fs / 0.45)
    items, x, rows = [], pad, 0
    for e in entries:
        (tw, _), _ = cv2.getTextSize(e.label, font, fs, 1)
        w = sw + 6 + tw
        if x + w > width - pad and x > pad:
            rows, x = rows + 1, pad
        items.append((e, x, rows))
        x += w + gap
    band = np.full(((rows + 1) * line_h + 2 * pad, max(1, int(width)), 3), background,
                   np.uint8)
    text = (20, 20, 20) if np.mean(background) > 128 else (240, 240, 240)
    for e, x, r in items:
        y = pad + r * line_h + line_h // 2
        _swatch(band, x, y, sw, e, s)
        cv2.putText(band, e.label, (x + sw + 6, y + int(6 * fs / 0.45)), font, fs,
                    text, 1, cv2.LINE_AA)
    return band
