"""Person tracks and files for other tools from the inferencer's 3D poses.

    # OpenSim / Pose2Sim markers: one .trc per person (y up, metres by default)
    python tools/export_poses.py work_dirs/demo/poses3d.json --to trc -o work_dirs/export
    # C3D (z up, mm) and a long-format CSV, smoothed, at the capture's frame rate
    python tools/export_poses.py poses3d.npz --to c3d csv --smooth one_euro --fps 50 \
        -o work_dirs/export

Person ids: the file's own ``track_id``s when it has them, otherwise (or with
``--track``) :class:`selfpose3d_mm.tracking.PoseTracker` runs and the ids are written
back as ``OUT_DIR/<name>_tracked.json`` / ``.npz`` (the input's format, schema in
``selfpose3d_mm/io/predictions.py``). Formats, axes and units: docs/tracking_and_exports.md
and ``selfpose3d_mm/io/exports.py``. Frame ``k`` of the file (its position) is at time
``k / fps``.
"""
import argparse
import os
import os.path as osp

import numpy as np

FORMATS = ('trc', 'c3d', 'csv')
# per-format defaults: (axes, units)
DEFAULTS = dict(trc=('yup', 'm'), c3d=('zup', 'mm'), csv=('zup', 'mm'))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Track and export 3D poses (TRC, C3D, CSV)')
    p.add_argument('poses', help='poses3d.json or poses3d.npz (tools/demo.py)')
    p.add_argument('--to', nargs='+', choices=FORMATS, required=True,
                   help='output format(s)')
    p.add_argument('-o', '--out-dir', required=True, help='output folder')
    p.add_argument('--track', action='store_true',
                   help='run the tracker even when the file already has track ids')
    p.add_argument('--smooth', choices=['one_euro', 'savgol'], default=None,
                   help='smooth each track before export (default: none)')
    p.add_argument('--fps', type=float, default=30.0,
                   help='frame rate of the file\'s frames (default 30)')
    p.add_argument('--units', choices=['m', 'mm'], default=None,
                   help='default: m for trc, mm for c3d and csv')
    p.add_argument('--axes', choices=['zup', 'yup'], default=None,
                   help='zup: the package\'s world (z up); yup: (x, z, -y), y up as '
                   'OpenSim models are. Default: yup for trc, zup for c3d and csv')
    t = p.add_argument_group('tracker')
    t.add_argument('--max-distance', type=float, default=500.0, help='gate (mm)')
    t.add_argument('--min-hits', type=int, default=3, help='frames that confirm a track')
    t.add_argument('--max-misses', type=int, default=5, help='missed frames that end one')
    t.add_argument('--min-score', type=float, default=0.0,
                   help='detections below this score start no track')
    s = p.add_argument_group('smoothing')
    s.add_argument('--min-cutoff', type=float, default=1.0, help='one_euro: Hz at rest')
    s.add_argument('--beta', type=float, default=0.007, help='one_euro: speed coefficient')
    s.add_argument('--window', type=int, default=9, help='savgol: window (frames, odd)')
    s.add_argument('--polyorder', type=int, default=2, help='savgol: polynomial order')
    args = p.parse_args(argv)
    if args.fps <= 0:
        p.error('--fps must be > 0')
    if args.window < 1 or args.window % 2 == 0 or args.polyorder >= args.window:
        p.error('--window must be odd and larger than --polyorder')
    return args


def _track(data: dict, args) -> dict:
    """Run the tracker on the file's frames; sets each frame's ``track_ids``."""
    from selfpose3d_mm.tracking import PoseTracker
    tracker = PoseTracker(max_distance=args.max_distance, min_hits=args.min_hits,
                          max_misses=args.max_misses, fps=args.fps,
                          min_score=args.min_score)
    frames = data['frames']
    ids = tracker.track_sequence([r['keypoints_3d'] for r in frames],
                                 [r['scores'] for r in frames])
    for r, i in zip(frames, ids):
        r['track_ids'] = i
    return tracker.settings


def _write_tracked(data: dict, settings: dict, path: str, out_dir: str) -> str:
    from selfpose3d_mm.io.predictions import save_predictions_json, save_predictions_npz
    stem, ext = osp.splitext(osp.basename(path))
    out = osp.join(out_dir, f'{stem}_tracked{ext.lower()}')
    if ext.lower() == '.npz':
        save_predictions_npz(out, data['frames'], data['joint_names'],
                             data['skeleton_links'])
    else:
        save_predictions_json(out, dict(data['header'], tracking=settings), data['frames'])
    return out


def export(args) -> dict:
    from selfpose3d_mm.io.exports import write_c3d, write_pose_csv, write_trc
    from selfpose3d_mm.io.predictions import load_prediction_file
    from selfpose3d_mm.tracking import collect_tracks, smooth_tracks, track_lookup

    data = load_prediction_file(args.poses)
    frames, names = data['frames'], data['joint_names']
    os.makedirs(args.out_dir, exist_ok=True)
    out = dict(files=[])
    if args.track or not data['tracked']:
        out['tracked_file'] = _write_tracked(data, _track(data, args), args.poses,
                                             args.out_dir)
    poses = [np.asarray(r['keypoints_3d'], np.float64) for r in frames]
    tracks = collect_tracks(poses, [r['track_ids'] for r in frames])
    kw = (dict(min_cutoff=args.min_cutoff, beta=args.beta) if args.smooth == 'one_euro'
          else dict(window=args.window, polyorder=args.polyorder) if args.smooth else {})
    tracks = smooth_tracks(tracks, args.smooth, args.fps, **kw)
    out['num_tracks'] = len(tracks)
    stem = osp.splitext(osp.basename(args.poses))[0]
    for fmt in args.to:
        axes, units = args.axes or DEFAULTS[fmt][0], args.units or DEFAULTS[fmt][1]
        if fmt in ('trc', 'c3d'):
            writer = write_trc if fmt == 'trc' else write_c3d
            for tid, (fr, p, v) in tracks.items():
                path = osp.join(args.out_dir, f'{stem}_track{tid:03d}.{fmt}')
                writer(path, fr, p, v, names, args.fps, units=units, axes=axes)
                out['files'].append(path)
        else:
            lookup = track_lookup(tracks)  # smoothed poses of the tracked persons
            for f, (r, p) in enumerate(zip(frames, poses)):
                for k, tid in enumerate(r['track_ids']):
                    if tid >= 0:
                        p[k] = lookup[(f, int(tid))][0]
            path = osp.join(args.out_dir, f'{stem}.csv')
            write_pose_csv(path, list(range(len(frames))), poses, names, args.fps,
                           scores=[r['scores'] for r in frames],
                           track_ids=[r['track_ids'] for r in frames], units=units,
                           axes=axes)
            out['files'].append(path)
    return out


def main(argv=None):
    args = parse_args(argv)
    try:
        out = export(args)
    except (OSError, ValueError, ImportError) as e:
        raise SystemExit(f'tools/export_poses.py: {e}') from None
    if 'tracked_file' in out:
        print(f'tracked: {out["tracked_file"]}')
    print(f'{out["num_tracks"]} tracks; {len(out["files"])} files in {args.out_dir}')
    for f in out['files']:
        print(f'  {f}')
    return out


if __name__ == '__main__':
    main()
