"""The paper-scale model (the network of configs/voxelpose_panoptic.py) with random
weights on one frame of configs/voxelpose_panoptic_synthetic.py (the synthetic dome):
seconds per stage, forward and backward, peak memory.

    python benchmarks/paper_scale.py [--device cpu|cuda] [--repeats 2]

Stages: heatmap net (ResNet-50 + 3 deconvolutions on 5 views at 960 x 512), root
unprojection (80 x 80 x 20 cube; first call builds the rig's cached sampling grid, later
calls reuse it), root net, proposals (NMS + top-10), pose unprojection (10 cubes at 64^3),
pose net; then the supervised loss's backward. On a GPU it also measures frames/s at batch 1
and the largest batch that fits, and stores them under "gpu" in the same file.
Writes benchmarks/results/paper_scale.json (the CPU run and the GPU entry are merged).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import resource
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from benchmarks.common import RESULTS_DIR, machine, sync, timed, write_result  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def build(config: str, device):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS, MODELS

    import selfpose3d_mm  # noqa: F401
    init_default_scope('mmpose')
    cfg = Config.fromfile(config)
    ds_cfg = cfg.val_dataloader.dataset
    ds_cfg.num_samples = 4
    dataset = DATASETS.build(ds_cfg)
    model = MODELS.build(cfg.model).to(device)
    return cfg, dataset, model


def make_batch(dataset, model, batch_size: int, device):
    from selfpose3d_mm.datasets import multiview_collate
    items = [dataset[i % len(dataset)] for i in range(batch_size)]
    return model.data_preprocessor(multiview_collate(items), True)


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def stage_times(model, data, device) -> dict:
    """Forward stage by stage, exactly the path of ``SelfPose3D.predict`` but keeping all
    top-K proposals (random weights give no meaningful scores)."""
    from selfpose3d_mm.geometry import make_voxel_grid, unproject_heatmaps
    batch = data['inputs']
    t = {}
    with torch.no_grad():
        with timed(t, 'heatmap_net', device):
            hm = model.heatmaps(batch, 0)
        hm_root = model.root_input(hm)
        key = batch.grid_keys[0]
        model.root_grid._cache.clear()
        with timed(t, 'root_unprojection_first_call', device):
            model.root_grid.unproject(hm_root, batch.cameras, batch.affines[:, 0], key=key)
        with timed(t, 'root_unprojection', device):
            vol = model.root_grid.unproject(hm_root, batch.cameras, batch.affines[:, 0],
                                            key=key)
        with timed(t, 'root_net', device):
            root = model.root_head(vol)
        with timed(t, 'proposals', device):
            centers, scores = model.root_head.decode(root)
        B, K = scores.shape
        b_idx = torch.arange(B, device=hm.device).repeat_interleave(K)
        c = centers.reshape(-1, 3)
        with timed(t, 'pose_unprojection', device):
            grids = make_voxel_grid(c, model.pose_head.cube_size, model.pose_head.cube_shape)
            vols = unproject_heatmaps(hm[b_idx], batch.cameras_of(b_idx),
                                      batch.affines[b_idx, 0], grids.unsqueeze(1))[:, 0]
        with timed(t, 'pose_net', device):
            model.pose_head(vols, grids)
    t['forward_total'] = sum(v for k, v in t.items() if k != 'root_unprojection_first_call')
    t['proposals_per_frame'] = K
    return t


def backward_time(model, data, device) -> dict:
    """The supervised loss (2D heatmaps, root volume, pose net on cubes at the frame's GT
    roots) forward + backward through every stage."""
    model.train()
    model.objective.pose_on_gt_roots = True
    model.zero_grad(set_to_none=True)
    t = {'pose_cubes': int(data['inputs'].gt.mask.sum())}
    with timed(t, 'loss_forward', device):
        losses = model(**data, mode='loss')
        loss = sum(losses.values())
    with timed(t, 'backward', device):
        loss.backward()
    model.eval()
    return t


def gpu_throughput(model, dataset, device, max_batch: int = 64) -> dict:
    """Frames/s of ``predict`` at batch 1 and the largest batch that fits (doubling)."""
    model.eval()
    out, largest = {}, None
    bs = 1
    while bs <= max_batch:
        try:
            data = make_batch(dataset, model, bs, device)
            with torch.no_grad():
                model(**data, mode='predict')
                sync(device)
                t = time.perf_counter()
                reps = 3
                for _ in range(reps):
                    model(**data, mode='predict')
                sync(device)
            fps = bs * reps / (time.perf_counter() - t)
            out[f'fps_batch_{bs}'] = fps
            largest = bs
            bs *= 2
        except torch.cuda.OutOfMemoryError:
            break
        finally:
            torch.cuda.empty_cache()
    return dict(fps_batch_1=out.get('fps_batch_1'), largest_batch=largest,
                fps_largest_batch=out.get(f'fps_batch_{largest}'), per_batch=out,
                peak_memory_gb=torch.cuda.max_memory_allocated() / 2**30)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config',
                   default=osp.join(ROOT, 'configs/voxelpose_panoptic_synthetic.py'))
    p.add_argument('--device', default='cpu')
    p.add_argument('--repeats', type=int, default=2)
    p.add_argument('--out', default='paper_scale.json')
    args = p.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    rss0 = max_rss_mb()
    cfg, dataset, model = build(args.config, device)
    model.eval()
    data = make_batch(dataset, model, 1, device)
    runs = [stage_times(model, data, device) for _ in range(args.repeats)]
    fwd = {k: min(r[k] for r in runs) for k in runs[0]}
    rss_fwd = max_rss_mb()
    bwd = backward_time(model, data, device)
    entry = dict(
        machine=machine(), device=str(device), config=osp.relpath(args.config, ROOT),
        views=int(data['inputs'].num_views), input_size=list(model.input_size),
        heatmap_size=list(model.heatmap_size), root_cube=list(model.root_head.cube_shape),
        pose_cube=list(model.pose_head.cube_shape),
        parameters_M=sum(p.numel() for p in model.parameters()) / 1e6,
        forward_s=fwd, backward_s=bwd)
    if device.type == 'cpu':
        entry.update(peak_rss_mb_after_forward=rss_fwd, peak_rss_mb=max_rss_mb(),
                     rss_mb_at_start=rss0)
    else:
        entry['peak_memory_gb_batch_1'] = torch.cuda.max_memory_allocated() / 2**30
        entry.update(gpu_throughput(model, dataset, device))
    print(json.dumps(entry, indent=2))
    path = osp.join(RESULTS_DIR, args.out)
    result = json.load(open(path)) if osp.exists(path) else {}
    if device.type == 'cpu':
        result = {**entry, **({'gpu': result['gpu']} if 'gpu' in result else {})}
    else:
        result['gpu'] = entry
    print('written', write_result(args.out, result))


if __name__ == '__main__':
    main()
