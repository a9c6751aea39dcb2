"""Where a model's 3D error goes, on the synthetic world's held-out test split.

    python benchmarks/error_analysis.py CONFIG CHECKPOINT --name selfsup [--frames 150]

Measured per matched person (Hungarian on MPJPE, < 500 mm) against the 3D GT:
  network          MPJPE of the network's joints, per joint, and its root error
                   (proposal centre vs GT mid-hip)
  oracle_roots     MPJPE of the pose net on cubes centred at the GT roots: the share of
                   the error due to root localisation is network - oracle_roots
  quantisation     MPJPE of the nearest voxel centre of each GT joint in its cube (what a
                   one-hot soft-argmax can reach) and the network's effective number of
                   voxels per joint (exp of the softmax entropy: ~1 means no sub-voxel
                   interpolation)
  pseudo2d_floor   MPJPE of score-weighted triangulation of the 2D pseudo poses with the
                   simulator's true association (a per-frame optimum of what the
                   self-supervised losses ask for), with the detector's systematic
                   up-offset and without it (same random draws)
Writes benchmarks/results/error_analysis.json[name].
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.common import RESULTS_DIR, machine, write_result  # noqa: E402


def _match(pred: np.ndarray, gt: np.ndarray, radius: float = 500.0):
    """(gt index, pred index) pairs matched by MPJPE below ``radius``."""
    if len(pred) == 0 or len(gt) == 0:
        return []
    cost = np.linalg.norm(gt[:, None] - pred[None], axis=-1).mean(-1)
    r, c = linear_sum_assignment(cost)
    return [(i, j) for i, j in zip(r, c) if cost[i, j] < radius]


def _floor_errors(dataset, idx: int) -> np.ndarray:
    """(N, J) errors of triangulating the pseudo poses with the true association."""
    from selfpose3d_mm.geometry import triangulate_points
    info = dataset.get_data_info(idx)
    # per view: keypoints (P_c, J, 2) px, scores (P_c, J), source (P_c,) person index
    # into all people (-1: a ghost)
    kp, sc = info['pseudo_keypoints'], info['pseudo_keypoint_scores']
    src = [np.asarray(s) for s in info['pseudo_source']]
    people = np.asarray(info['all_keypoints_3d'])
    gt = np.asarray(info['gt_keypoints_3d'])
    # person index of each GT row: GT people are the inside ones, in order
    gt_ids = [int(np.argmin(np.abs(people - g).sum((1, 2)))) for g in gt]
    C, J = len(kp), people.shape[1]
    uv = np.zeros((C, len(gt), J, 2))
    w = np.zeros((C, len(gt), J))
    for n, pid in enumerate(gt_ids):
        for c in range(C):
            hit = np.nonzero(src[c] == pid)[0]
            if len(hit):
                k, q = np.asarray(kp[c])[hit[0], :, :2], np.asarray(sc[c])[hit[0]]
                uv[c, n], w[c, n] = k, q * (q > 0.05)
    X = triangulate_points(info['cameras'], torch.from_numpy(uv.reshape(C, -1, 2)),
                           torch.from_numpy(w.reshape(C, -1))).numpy().reshape(len(gt), J, 3)
    return np.linalg.norm(X - gt, axis=-1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--name', required=True)
    p.add_argument('--frames', type=int, default=150)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--beta', type=float, default=None,
                   help='soft-argmax sharpness at test time (default: the trained one)')
    args = p.parse_args()
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, load_checkpoint

    import selfpose3d_mm  # noqa: F401
    from selfpose3d_mm.models.heads.v2v import run_v2v
    from selfpose3d_mm.geometry import make_voxel_grid, unproject_heatmaps
    from selfpose3d_mm.skeleton import PANOPTIC15_NAMES
    init_default_scope('mmpose')
    cfg = Config.fromfile(args.config)
    cfg.test_dataloader.dataset.update(num_samples=args.frames, seed=args.seed)
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    loader = Runner.build_dataloader(cfg.test_dataloader)
    from mmpose.registry import MODELS
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    head = model.pose_head
    if args.beta is not None:
        head.beta = args.beta
    net_err, oracle_err, quant_err, root_err, eff_vox = [], [], [], [], []
    with torch.no_grad():
        for data in loader:
            d = model.data_preprocessor(data, False)
            batch, samples = d['inputs'], d['data_samples']
            hm, _, centers, scores = model._detect(batch)
            for b, s in enumerate(samples):
                gt = s.gt_instances.keypoints_3d.numpy()
                if len(gt) == 0:
                    continue
                keep = scores[b] > model.root_head.threshold
                c = centers[b][keep]
                bi = torch.full((len(c),), b, dtype=torch.long)
                joints = model.pose_from_proposals(hm, batch, 0, c, bi).numpy()
                for g, j in _match(joints, gt):
                    net_err.append(np.linalg.norm(joints[j] - gt[g], axis=-1))
                    root_err.append(float(np.linalg.norm(c[j].numpy()
                                                         - gt[g, model.root_index])))
                # pose net on cubes at the GT roots
                gc = torch.from_numpy(gt[:, model.root_index]).float()
                gi = torch.full((len(gc),), b, dtype=torch.long)
                grids = make_voxel_grid(gc, head.cube_size, head.cube_shape)
                vols = unproject_heatmaps(hm[gi], batch.cameras_of(gi),
                                          batch.affines[gi, 0], grids.unsqueeze(1))[:, 0]
                h = run_v2v(head.net, vols)
                prob = torch.softmax(head.beta * h.flatten(2), -1)  # (N, J, V)
                X = (prob @ grids.reshape(len(gc), -1, 3)).numpy()
                oracle_err.append(np.linalg.norm(X - gt, axis=-1))
                ent = -(prob.clamp_min(1e-12).log() * prob).sum(-1)
                eff_vox.append(ent.exp().numpy())
                g = grids.reshape(len(gc), -1, 3).numpy()  # nearest voxel of each joint
                near = np.linalg.norm(g[:, None] - gt[:, :, None], axis=-1).min(-1)
                quant_err.append(near)
    ds = loader.dataset
    world = dict(cfg.test_dataloader.dataset)
    world.pop('pipeline', None)
    from mmpose.registry import DATASETS
    no_bias = DATASETS.build(dict(world, pipeline=[], pseudo2d=dict(
        world.get('pseudo2d') or {}, joint_up_offset=None)))
    floor = np.concatenate([_floor_errors(ds, i) for i in range(len(ds))])
    floor_nb = np.concatenate([_floor_errors(no_bias, i) for i in range(len(ds))])

    def summary(err):
        err = np.concatenate([np.atleast_2d(e) for e in err])
        per_joint = np.nanmean(err, 0)
        return dict(MPJPE=float(np.nanmean(err)), persons=int(len(err)),
                    per_joint={n: float(v) for n, v in zip(PANOPTIC15_NAMES, per_joint)})

    cube = [s / n for s, n in zip(head.cube_size, head.cube_shape)]
    out = dict(config=args.config, checkpoint=args.checkpoint, frames=args.frames,
               test_seed=args.seed, voxel_mm=cube, beta=head.beta,
               network=dict(summary(net_err), root_error_mm=float(np.mean(root_err))),
               oracle_roots=summary(oracle_err),
               quantisation=dict(nearest_voxel=summary(quant_err),
                                 effective_voxels_mean=float(np.concatenate(
                                     [e.ravel() for e in eff_vox]).mean())),
               pseudo2d_floor=dict(with_up_offset=summary([floor]),
                                   without_up_offset=summary([floor_nb])))
    path = osp.join(RESULTS_DIR, 'error_analysis.json')
    result = json.load(open(path)) if osp.exists(path) else {}
    result['machine'] = machine()
    result[args.name] = out
    write_result('error_analysis.json', result)
    print(json.dumps({k: (v['MPJPE'] if isinstance(v, dict) and 'MPJPE' in v else v)
                      for k, v in out.items()}, indent=1))


if __name__ == '__main__':
    main()
