"""Loss, learning-rate and metric curves of a training run, with its stages marked.

    python tools/analyze_logs.py WORK_DIR [--out curves.png] [--config CONFIG]
                                 [--losses loss_pose_hm ...] [--metrics mAP MPJPE ...]
                                 [--linear]

WORK_DIR is a work dir (its newest run is read), a run dir (``<work_dir>/<timestamp>``) or
a ``scalars.json`` — the file mmengine's LocalVisBackend writes as
``<work_dir>/<timestamp>/vis_data/scalars.json``: one JSON object per line; training
lines carry ``iter`` (and ``epoch`` in epoch-based runs), validation lines only ``step``
(the epoch, or the iteration in iteration-based runs), and ``TrainingStageHook`` writes
``{"stage": n, "step": i}`` when stage ``n`` (1 = the first) starts after ``i``
iterations.

The picture (default ``<run dir>/curves.png``): one curve per loss key, drawn only over
the logged iterations where that loss was on (a loss a stage switches off has no point
there; the stage hook drops it from the logs), the learning rate, one panel per
validation metric (by default all but the per-threshold ``AP25`` … ``recall@150``);
dashed lines at the stage starts, stages shaded alternately and labelled (with their
names when ``--config`` gives the run's config; for a log written before the stage hook
logged its stages, the config's stage epochs place them). A per-stage summary is printed.
"""
import argparse
import glob
import json
import math
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from selfpose3d_mm.utils.io import atomic_path

NOT_METRICS = {'step', 'epoch', 'iter', 'time', 'data_time', 'stage'}
# per-threshold AP/recall: plotted when asked for by name (--metrics), not by default
PER_THRESHOLD = re.compile(r'^(AP|recall@)\d+$')


@dataclass
class Series:
    x: np.ndarray
    y: np.ndarray


@dataclass
class Stage:
    number: int                  # 1 = the first stage of the schedule
    start_iter: int              # iterations completed when it started
    start_epoch: Optional[int]   # epochs completed when it started (epoch-based runs)


@dataclass
class Curves:
    losses: Dict[str, List[Series]]   # key → runs of consecutive training lines logging it
    lr: List[Series]
    metrics: Dict[str, Series]        # x on `metric_axis`
    metric_axis: str                  # 'epoch' or 'iteration'
    stages: List[Stage] = field(default_factory=list)
    last_iter: int = 0

    @property
    def boundaries(self) -> List[int]:
        """The iteration counts at which a new stage started (the first stage excluded)."""
        return [s.start_iter for s in self.stages[1:]]


def find_scalars(path: str) -> str:
    """The scalars.json of ``path`` (file, run dir or work dir → its newest run)."""
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise SystemExit(f'{path}: no such file or directory')
    for candidate in (osp.join(path, 'vis_data', 'scalars.json'),
                      osp.join(path, 'scalars.json')):
        if osp.isfile(candidate):
            return candidate
    runs = sorted(glob.glob(osp.join(glob.escape(path), '*', 'vis_data', 'scalars.json')))
    if not runs:
        raise SystemExit(f'{path}: no scalars.json (looked for vis_data/scalars.json in '
                         'it and in its run folders)')
    return runs[-1]  # run folders are named by their start time


def load_records(path: str) -> List[dict]:
    """The JSON objects of a scalars.json, one per non-empty line."""
    records = []
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f'{path}, line {n}: not JSON ({e.msg})') from None
            if not isinstance(rec, dict):
                raise SystemExit(f'{path}, line {n}: expected a JSON object, got '
                                 f'{type(rec).__name__}')
            for key in ('iter', 'step', 'epoch', 'stage'):
                if key in rec and not isinstance(rec[key], (int, float)):
                    raise SystemExit(f'{path}, line {n}: `{key}` is not a number')
            records.append(rec)
    return records


def _runs(xs: Sequence[float], ys: Sequence[Optional[float]]) -> List[Series]:
    """Split at the missing values (None): one Series per run of present ones."""
    out, cur = [], []
    for x, y in zip(xs, ys):
        if y is None:
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append((x, y))
    if cur:
        out.append(cur)
    return [Series(np.array([p[0] for p in r], float), np.array([p[1] for p in r], float))
            for r in out]


def _number(v) -> Optional[float]:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def parse_curves(records: Sequence[dict], source: str = 'scalars.json',
                 schedule: Optional[Sequence[int]] = None) -> Curves:
    """Training series, validation series and stages of a run's records.

    ``schedule`` (the epochs of each stage, from the config) places the stages of a log
    without stage lines (written before the stage hook logged them): a stage then starts
    at the last logged iteration of the epochs before it."""
    train = sorted((r for r in records if 'iter' in r), key=lambda r: r['iter'])
    if not train:
        raise SystemExit(f'{source}: no training lines (objects with `iter`)')
    val = [r for r in records if 'iter' not in r and 'stage' not in r and 'step' in r]
    by_epoch = any('epoch' in r for r in train)
    xs = [int(r['iter']) for r in train]

    loss_keys = sorted({k for r in train for k in r if k.startswith('loss')})
    losses = {k: _runs(xs, [_number(r[k]) if k in r else None for r in train])
              for k in loss_keys}
    lr = _runs(xs, [_number(r.get('lr')) for r in train])

    metric_keys = sorted({k for r in val for k, v in r.items()
                          if k not in NOT_METRICS and _number(v) is not None})
    metrics = {}
    for k in metric_keys:
        pts = [(float(r['step']), _number(r.get(k))) for r in val]
        pts = [(x, y) for x, y in pts if y is not None]
        metrics[k] = Series(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))

    # stage observations: the hook's {"stage", "step"} lines (x = iterations done) and
    # training lines that carry a stage; a change of value starts a stage
    obs = [(float(r['step']), int(r['stage'])) for r in records
           if 'stage' in r and 'iter' not in r and 'step' in r]
    obs += [(float(r['iter']), int(r['stage'])) for r in train if 'stage' in r]
    if not obs and schedule and by_epoch:
        first_epoch = np.cumsum([0] + list(schedule))[:-1]  # epochs done before each stage
        for number, done in enumerate(first_epoch, 1):
            before = [r['iter'] for r in train if r.get('epoch', 0) <= done]
            if done == 0 or before:
                obs.append((float(max(before)) if done else 0.0, number))
    obs.sort(key=lambda o: o[0])  # stable: a stage line after the line at the same step
    stages: List[Stage] = []
    for x, number in obs:
        if not stages or stages[-1].number != number:
            start_epoch = None
            if by_epoch:
                after = [r['epoch'] for r in train if r['iter'] > x and 'epoch' in r]
                start_epoch = int(after[0]) - 1 if after else None
            stages.append(Stage(number, int(x), start_epoch))
    return Curves(losses, lr, metrics, 'epoch' if by_epoch else 'iteration', stages,
                  last_iter=max(xs))


def stages_from_config(config: str) -> List[dict]:
    """The stages (``name``, ``epochs``) of the TrainingStageHook of a config."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    for hook in cfg.get('custom_hooks', None) or []:
        if hook.get('type') in ('TrainingStageHook', 'mmpose.TrainingStageHook'):
            return [dict(name=s.get('name', f'stage{i}'), epochs=int(s['epochs']))
                    for i, s in enumerate(hook['stages'])]
    raise SystemExit(f'{config}: no TrainingStageHook in custom_hooks (no stages)')


def _label(stage: Stage, names: Dict[int, str]) -> str:
    name = names.get(stage.number)
    return f'stage {stage.number}' + (f' {name!r}' if name else '')


def _mark_stages(ax, starts: List[Optional[float]], labels: List[str], end: float) -> None:
    """Shade the stages alternately, dash their starts, label them at the top."""
    spans = [(s, starts[i + 1] if i + 1 < len(starts) else end)
             for i, s in enumerate(starts)]
    known = [s for s in starts if s is not None]
    if known:  # the first stage starts on the plot even if nothing was logged there yet
        ax.set_xlim(left=min(ax.get_xlim()[0], min(known)))
    for i, ((a, b), text) in enumerate(zip(spans, labels)):
        if a is None or b is None:
            continue
        if i % 2:
            ax.axvspan(a, b, color='0.93', zorder=0)
        if i:
            ax.axvline(a, color='0.35', linestyle='--', linewidth=1)
        ax.text(a, 1.0, ' ' + text, transform=ax.get_xaxis_transform(), va='top',
                ha='left', fontsize=8, color='0.25')


def _check_names(requested, available, what, source):
    unknown = sorted(set(requested) - set(available))
    if unknown:
        raise SystemExit(f'{source}: no {what} named {unknown}; available: {sorted(available)}')


def plot_curves(curves: Curves, out: str, names: Optional[Dict[int, str]] = None,
                losses: Optional[Sequence[str]] = None,
                metrics: Optional[Sequence[str]] = None, log_losses: bool = True):
    """Write the picture (any format matplotlib writes, from the extension) atomically;
    returns the matplotlib Figure (each loss line has the loss key as its ``gid``)."""
    from matplotlib.figure import Figure
    names = names or {}
    loss_keys = list(losses) if losses else list(curves.losses)
    metric_keys = _metric_keys(curves, metrics)
    ncols = 3
    mrows = math.ceil(len(metric_keys) / ncols)
    fig = Figure(figsize=(13, 4.2 + 1.8 + 2.6 * mrows), layout='constrained')
    grid = fig.add_gridspec(2 + mrows, ncols, height_ratios=[4.2, 1.8] + [2.6] * mrows)
    labels = [_label(s, names) for s in curves.stages]
    it_starts = [float(s.start_iter) for s in curves.stages]

    ax = fig.add_subplot(grid[0, :])
    colors = {k: f'C{i % 10}' for i, k in enumerate(loss_keys)}
    positive = True
    for k in loss_keys:
        for j, run in enumerate(curves.losses[k]):
            style = dict(color='k', linewidth=1.6) if k == 'loss' else dict(color=colors[k])
            ax.plot(run.x, run.y, marker='.' if len(run.x) < 30 else None,
                    label=k if j == 0 else None, gid=k, **style)
            positive &= bool(np.all(run.y[np.isfinite(run.y)] > 0))
    if log_losses and positive and loss_keys:
        ax.set_yscale('log')
    _mark_stages(ax, it_starts, labels, curves.last_iter)
    ax.set_ylabel('loss (weighted)')
    if loss_keys:
        ax.legend(fontsize=8, loc='upper left', bbox_to_anchor=(1.0, 1.0))
    ax.set_title('training losses (a loss is drawn only where its stage has it on)')

    ax_lr = fig.add_subplot(grid[1, :], sharex=ax)
    for run in curves.lr:
        ax_lr.plot(run.x, run.y, color='C0', drawstyle='steps-post')
    if any(np.all(r.y > 0) for r in curves.lr):
        ax_lr.set_yscale('log')
    _mark_stages(ax_lr, it_starts, [''] * len(labels), curves.last_iter)
    ax_lr.set_ylabel('lr')
    ax_lr.set_xlabel('iteration')

    by_epoch = curves.metric_axis == 'epoch'
    m_starts = [None if s.start_epoch is None else float(s.start_epoch)
                for s in curves.stages] if by_epoch else it_starts
    for i, k in enumerate(metric_keys):
        axm = fig.add_subplot(grid[2 + i // ncols, i % ncols])
        series = curves.metrics[k]
        axm.plot(series.x, series.y, marker='o', color='C3')
        end = max([float(series.x.max())] if len(series.x) else [0.0])
        _mark_stages(axm, m_starts, [''] * len(labels), end)
        axm.set_title(k, fontsize=9)
        axm.set_xlabel(curves.metric_axis)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110)
    return fig


def _metric_keys(curves: Curves, metrics: Optional[Sequence[str]]) -> List[str]:
    if metrics is not None:
        return list(metrics)
    return [k for k in curves.metrics if not PER_THRESHOLD.match(k)]


def summary(curves: Curves, names: Dict[int, str],
            metrics: Optional[Sequence[str]] = None) -> List[str]:
    """One line per stage (iterations, the losses it logged with their last values) and
    the last validation."""
    lines = []
    stages = curves.stages or [Stage(0, 0, None)]
    for i, s in enumerate(stages):
        end = stages[i + 1].start_iter if i + 1 < len(stages) else curves.last_iter
        last = {}
        for k, runs in curves.losses.items():
            for r in runs:
                inside = (r.x > s.start_iter) & (r.x <= end)
                if inside.any():
                    last[k] = r.y[inside][-1]
        head = _label(s, names) if curves.stages else 'run'
        lines.append(f'{head}: iterations {s.start_iter + 1}-{end}: '
                     + ', '.join(f'{k} {v:.4g}' for k, v in last.items()))
    shown = {k: curves.metrics[k] for k in _metric_keys(curves, metrics)
             if len(curves.metrics[k].x)}
    if shown:
        x = max(float(m.x.max()) for m in shown.values())
        vals = {k: m.y[m.x == x] for k, m in shown.items()}
        lines.append(f'validation at {curves.metric_axis} {x:g}: '
                     + ', '.join(f'{k} {v[-1]:.4g}' for k, v in vals.items() if len(v)))
    return lines


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Plot the loss, lr and metric curves of a '
                                'training run, stages marked')
    p.add_argument('path', help='work dir (newest run), run dir or scalars.json')
    p.add_argument('--out', help='picture to write (default: <run dir>/curves.png)')
    p.add_argument('--config', help="the run's config, for the stage names")
    p.add_argument('--losses', nargs='+', help='only these loss keys (default: all)')
    p.add_argument('--metrics', nargs='*', help='these validation metrics (default: all '
                   'but the per-threshold AP<d>/recall@<d>; none with an empty list)')
    p.add_argument('--linear', action='store_true', help='linear loss axis (default: log)')
    return p.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    source = find_scalars(args.path)
    stages = stages_from_config(args.config) if args.config else []
    curves = parse_curves(load_records(source), source, [s['epochs'] for s in stages])
    if args.losses:
        _check_names(args.losses, curves.losses, 'loss', source)
    if args.metrics:
        _check_names(args.metrics, curves.metrics, 'metric', source)
    names = {i + 1: s['name'] for i, s in enumerate(stages)}
    folder = osp.dirname(osp.abspath(source))
    run_dir = osp.dirname(folder) if osp.basename(folder) == 'vis_data' else folder
    out = args.out or osp.join(run_dir, 'curves.png')
    plot_curves(curves, out, names, args.losses, args.metrics, log_losses=not args.linear)
    print(f'read {source}')
    for line in summary(curves, names, args.metrics):
        print(line)
    print(f'wrote {out}')
    return out


if __name__ == '__main__':
    main()
