"""The pictures of the quality report (:mod:`.quality_report`), drawn with matplotlib's
object API on the Agg canvas (no pyplot, no global backend change):

* ``quality_heatmap.png``: median reprojection error (px) per view × joint;
* ``quality_bone_cv.png``: bone-length coefficient of variation per bone, one bar per
  track, with the flagging threshold;
* ``quality_timeline.png``: people found per frame, frames without anybody marked.
"""
from __future__ import annotations

import os.path as osp
from typing import List

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from selfpose3d_mm.utils import atomic_path

__all__ = ['plot_quality_report']


def _save(fig: Figure, path: str) -> str:
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format='png')
    return path


def _array(rows) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in r] for r in rows], np.float64)


def _heatmap(report: dict, path: str) -> str:
    med = _array(report['reprojection']['median_px']).reshape(len(report['views']), -1)
    C, J = med.shape
    fig = Figure(figsize=(1.0 + 0.55 * J, 1.5 + 0.45 * C), layout='constrained')
    ax = fig.add_subplot()
    im = ax.imshow(np.ma.masked_invalid(med), cmap='viridis', aspect='auto')
    ax.set_xticks(range(J), report['joints'], rotation=60, ha='right', fontsize=8)
    ax.set_yticks(range(C), report['views'], fontsize=8)
    mid = np.nanmean([np.nanmin(med), np.nanmax(med)]) if np.isfinite(med).any() else 0
    for c in range(C):
        for j in range(J):
            if np.isfinite(med[c, j]):
                ax.text(j, c, f'{med[c, j]:.1f}', ha='center', va='center', fontsize=6,
                        color='w' if med[c, j] < mid else 'k')
    fig.colorbar(im, ax=ax, label='median reprojection error (px)')
    ax.set_title('median reprojection error per view and joint')
    return _save(fig, path)


def _bones(report: dict, path: str) -> str:
    names, tracks = report['bones']['names'], report['bones']['tracks']
    thr = report['settings']['bone_cv_threshold']
    fig = Figure(figsize=(2.0 + 0.5 * len(names), 4.0), layout='constrained')
    ax = fig.add_subplot()
    x = np.arange(len(names))
    width = 0.8 / max(len(tracks), 1)
    for k, t in enumerate(tracks):
        cv = np.array([np.nan if v is None else v for v in t['cv']], np.float64)
        ax.bar(x - 0.4 + width * (k + 0.5), np.nan_to_num(cv), width,
               label=f'track {t["track_id"]}')
    ax.axhline(thr, color='r', ls='--', lw=1, label=f'flag > {thr:g}')
    ax.set_xticks(x, names, rotation=60, ha='right', fontsize=8)
    ax.set_ylabel('bone length std / mean')
    ax.set_title('bone-length stability per track' if tracks else
                 'bone-length stability: no track long enough')
    if len(tracks) <= 12:
        ax.legend(fontsize=7, ncols=2)
    return _save(fig, path)


def _timeline(report: dict, path: str) -> str:
    n = np.asarray(report['timeline']['num_persons'], np.float64)
    empty = np.asarray(report['timeline']['frames_without_people'], np.int64)
    fig = Figure(figsize=(8.0, 2.5), layout='constrained')
    ax = fig.add_subplot()
    ax.step(np.arange(len(n)), n, where='mid', lw=1)
    if len(empty):
        ax.plot(empty, np.zeros(len(empty)), 'r|', ms=12, label='nobody found')
        ax.legend(fontsize=7)
    ax.set_xlabel('frame (position in the file)')
    ax.set_ylabel('people')
    ax.set_title('people found per frame')
    return _save(fig, path)


def plot_quality_report(report: dict, out_dir: str) -> List[str]:
    """Write the three PNGs into ``out_dir`` (atomically); returns their paths."""
    return [_heatmap(report, osp.join(out_dir, 'quality_heatmap.png')),
            _bones(report, osp.join(out_dir, 'quality_bone_cv.png')),
            _timeline(report, osp.join(out_dir, 'quality_timeline.png'))]
