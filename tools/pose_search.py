"""Find similar poses in a processed recording: query (frame, person) → nearest moments.

    # by canonical pose (no model): root-relative, turned to a fixed facing, MPJPE in mm
    python tools/pose_search.py work_dirs/demo/poses3d.json --frame 120 --person 0 -k 10
    # by the MCSS embedding of the person crops (the frames are read through the config)
    python tools/pose_search.py poses3d.json --frame 120 --person 0 \
        --config configs/pretext/mcss_custom_rig.py --checkpoint work_dirs/mcss/best.pth
    # as JSON too
    python tools/pose_search.py poses3d.json --frame 120 --json similar.json

Moments. Every person of every frame of the predictions file (``poses3d.json`` /
``.npz``: ``tools/demo.py``, ``tools/test.py --out``, ``tools/export_poses.py``'s tracked
files; ``selfpose3d_mm/io/predictions.py``) with a score of at least ``--min-score``.
``--frame`` is the frame *number* of the file (its ``frame`` field, a custom rig's frame
numbers) when the file has them, else the position of the frame in the file; a string
that is not a number is a ``frame_id``. ``--person`` is the ``track_id`` in a tracked
file, else the person's index in its frame.

Distances. Without a model (``--distance canonical``, the default): the MPJPE in mm
between canonical poses (:mod:`selfpose3d_mm.geometry.canonical_pose`: where the person
stands and which way they face do not count); ``--distance pa``: the Procrustes-aligned
MPJPE (rotation about any axis and size do not count either). With ``--config`` and
``--checkpoint`` (an ``MCSSEmbedder``): the Euclidean distance between embeddings, each
moment's being the normalised mean of its views' crop embeddings; the crops come from the
config's ``test_dataloader.dataset`` (an ``MCSSPairDataset``), its pseudo-3D source
replaced by this file. Moments no view sees get no embedding and are never returned.

Exclusion. The query moment itself is left out, and with ``--exclude-window W`` every
moment less than or equal to W frames (positions in the file) from the query's frame,
whoever it is (the same action a moment later is not a find). ``--include-query`` leaves
nothing out: the query then comes first, at distance 0.
"""
import argparse
import json
import os.path as osp

import numpy as np

TOOL = 'tools/pose_search.py'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Query (frame, person) -> the nearest moments '
                                'of a recording')
    p.add_argument('poses', help='poses3d.json or poses3d.npz (predictions, person ids)')
    p.add_argument('--frame', required=True,
                   help="query frame: the file's frame number (else position), or frame_id")
    p.add_argument('--person', type=int, default=0,
                   help='query person: track_id (tracked file) or index in the frame')
    p.add_argument('-k', '--top', type=int, default=10, help='moments returned')
    p.add_argument('--distance', choices=['canonical', 'pa'], default='canonical',
                   help='pose distance without a model (default canonical)')
    p.add_argument('--min-score', type=float, default=0.0,
                   help='persons scored below this are not moments')
    p.add_argument('--exclude-window', type=int, default=0,
                   help='also leave out every moment within this many frames of the query')
    p.add_argument('--include-query', action='store_true',
                   help='leave nothing out (the query comes first)')
    p.add_argument('--config', help='MCSS config (embedding search; with --checkpoint)')
    p.add_argument('--checkpoint', help='MCSSEmbedder checkpoint')
    p.add_argument('--device', default='cpu', help='device of the embedding model')
    p.add_argument('--json', help='also write the results to this JSON file')
    args = p.parse_args(argv)
    if (args.config is None) != (args.checkpoint is None):
        p.error('--config and --checkpoint go together')
    if args.top < 1 or args.exclude_window < 0:
        p.error('-k must be >= 1 and --exclude-window >= 0')
    return args


def moments(data: dict, min_score: float) -> dict:
    """The moments of a loaded predictions file: arrays ``position``, ``frame`` (number, or
    position), ``frame_id``, ``person`` (index in the frame), ``pid`` (track id or index),
    ``poses`` (M, J, 3) mm."""
    cols = {k: [] for k in ('position', 'frame', 'frame_id', 'person', 'pid', 'poses')}
    for f, r in enumerate(data['frames']):  # a loop over frames
        kp = np.asarray(r['keypoints_3d'], np.float64)
        tids = r.get('track_ids')
        for p in np.nonzero(np.asarray(r['scores']) >= min_score)[0].tolist():
            cols['position'].append(f)
            cols['frame'].append(int(r['frame']) if r.get('frame') is not None else f)
            cols['frame_id'].append(str(r['frame_id']))
            cols['person'].append(p)
            cols['pid'].append(int(tids[p]) if tids is not None else p)
            cols['poses'].append(kp[p])
    J = len(data['joint_names'])
    out = {k: np.asarray(v) for k, v in cols.items() if k != 'poses'}
    out['poses'] = np.asarray(cols['poses'], np.float64).reshape(-1, J, 3)
    return out


def find_query(m: dict, frame: str, person: int) -> int:
    """Row of the query moment (SystemExit with the available ones when absent)."""
    rows = np.nonzero(m['frame_id'] == frame)[0]
    if frame.lstrip('-').isdigit():
        rows = np.nonzero(m['frame'] == int(frame))[0]
    hit = rows[m['pid'][rows] == person]
    if not len(hit):
        have = sorted(set(m['pid'][rows].tolist()))
        where = f'persons there: {have}' if len(rows) else 'no such frame'
        raise SystemExit(f'{TOOL}: no person {person} in frame {frame} ({where})')
    return int(hit[0])


def pose_distances(m: dict, kind: str, query: int) -> np.ndarray:
    """(M,) distances of every moment to the query by pose alone (mm)."""
    import torch

    from selfpose3d_mm.evaluation.functional.retrieval import pa_mpjpe
    from selfpose3d_mm.geometry.canonical_pose import (canonical_pose_distance,
                                                       canonicalize_poses)
    P = m['poses']
    if kind == 'pa':
        return pa_mpjpe(P, P[query][None])
    c = canonicalize_poses(torch.from_numpy(P))
    return canonical_pose_distance(c[query:query + 1], c)[0].numpy()


def embeddings(m: dict, args) -> np.ndarray:
    """(M, D) moment embeddings (NaN rows: seen by no view) from the MCSS model."""
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    from mmpose.registry import DATASETS, MODELS

    from selfpose3d_mm.apis.config_links import apply_linked_settings
    cfg = Config.fromfile(args.config)
    apply_linked_settings(cfg)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    ds_cfg = dict(cfg.test_dataloader.dataset, mode='views', test_mode=False,
                  poses=dict(type='predictions', path=args.poses, min_score=args.min_score))
    ds = DATASETS.build(ds_cfg)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu', logger='silent')
    model.to(args.device).eval()
    row = {(fid, p): i for i, (fid, p) in enumerate(zip(m['frame_id'], m['person']))}
    sums = {}  # moment row -> sum of its views' embeddings
    for s in range(0, len(ds), 32):  # the crops, in batches
        items = [ds[i] for i in range(s, min(len(ds), s + 32))]
        data = model.data_preprocessor(pseudo_collate(items))
        with torch.no_grad():
            out = model.predict(data['inputs'], data['data_samples'])
        for o in out:
            r = row.get((str(o.metainfo['frame_id']), int(o.metainfo['person'])))
            if r is not None:
                sums[r] = sums.get(r, 0) + o.pred_embedding.cpu().numpy().sum(0)
    emb = np.full((len(m['person']), model.embedding_dim), np.nan)
    for r, v in sums.items():
        emb[r] = v / max(np.linalg.norm(v), 1e-12)
    return emb


def search(args) -> dict:
    from selfpose3d_mm.evaluation.functional.retrieval import nearest_moments
    from selfpose3d_mm.io.predictions import load_prediction_file
    data = load_prediction_file(args.poses)
    m = moments(data, args.min_score)
    if not len(m['person']):
        raise SystemExit(f'{TOOL}: {args.poses}: no person scored >= {args.min_score}')
    q = find_query(m, str(args.frame), args.person)
    exclude = np.zeros(len(m['person']), bool)
    if not args.include_query:
        exclude[q] = True
        if args.exclude_window > 0:
            exclude |= np.abs(m['position'] - m['position'][q]) <= args.exclude_window
    if args.config:
        emb = embeddings(m, args)
        if not np.isfinite(emb[q]).all():
            raise SystemExit(f'{TOOL}: the query person is seen by no view of the '
                             "config's footage: no embedding (use the pose distance)")
        idx, dist = nearest_moments(emb[q], emb, args.top, exclude)
        kind = 'embedding'
    else:
        d = pose_distances(m, args.distance, q)
        d = np.where(exclude, np.inf, d)
        idx = np.argsort(d, kind='stable')
        idx = idx[np.isfinite(d[idx])][:args.top]
        dist = d[idx]
        kind = 'canonical_mpjpe_mm' if args.distance == 'canonical' else 'pa_mpjpe_mm'

    def moment(i, d=None):
        out = dict(frame=int(m['frame'][i]), position=int(m['position'][i]),
                   frame_id=str(m['frame_id'][i]), person=int(m['pid'][i]))
        return out if d is None else dict(out, distance=round(float(d), 4))
    return dict(poses=args.poses, distance=kind, tracked=bool(data['tracked']),
                query=moment(q), results=[moment(i, d) for i, d in zip(idx, dist)])


def format_table(res: dict) -> str:
    q = res['query']
    who = 'track' if res['tracked'] else 'person'
    lines = [f'query: frame {q["frame"]} ({q["frame_id"]}), {who} {q["person"]}; '
             f'distance: {res["distance"]}',
             f'{"rank":>4}  {"frame":>7}  {who:>6}  {"distance":>10}  frame_id']
    for n, r in enumerate(res['results']):
        lines.append(f'{n + 1:>4}  {r["frame"]:>7}  {r["person"]:>6}  '
                     f'{r["distance"]:>10.4f}  {r["frame_id"]}')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    try:
        res = search(args)
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f'{TOOL}: {e}') from None
    print(format_table(res))
    if args.json:
        from selfpose3d_mm.utils import atomic_open
        with atomic_open(args.json, 'wb') as f:
            f.write(json.dumps(res, indent=1).encode('utf-8'))
        print(f'wrote {osp.abspath(args.json)}')
    return res


if __name__ == '__main__':
    main()
