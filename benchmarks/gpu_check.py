"""GPU readiness check of the paper-scale SelfPose3d model (configs/selfpose3d_panoptic.py,
image mode: ResNet-50 heatmaps of 5 views at 960 x 512, 80 x 80 x 20 root cube, 64^3
person cubes), random weights, on frames of the synthetic world laid out like the
Panoptic dome (rendered 1920 x 1080 images and simulated 2D pseudo poses: no dataset).

    bash benchmarks/gpu_check.sh                      # one GPU, <= 8 min
    python benchmarks/gpu_check.py --cpu-smoke --out /tmp/gpu_smoke.json   # tiny, CPU

Sections (each recorded even when a later one fails; errors are written, not raised):

* ``inference``: frames/s of the data preprocessor + ``predict`` at batch 1, 2, 4, ...
  up to the largest batch that fits (doubling until out of memory, capped by
  ``--max-batch``), AMP off and on, peak memory per batch. Every top-K proposal goes
  through the pose stage (threshold -1: random weights give no meaningful scores).
* ``training``: one optimiser step of every stage of the config's ``TrainingStageHook``
  (2D net on pseudo labels, root net, end-to-end L2, + L1, hard labels), AMP off and on:
  seconds per step, peak memory, the losses (finite?).
* ``unprojection``: the batched unprojection vs the per-view, per-person loop of
  ``benchmarks/unprojection.py`` on the model's root cube (cached grid) and K person cubes.

AMP: ``torch.autocast`` float16 with a gradient scaler on CUDA, bfloat16 on the CPU (the
smoke mode). The result goes to ``benchmarks/results/gpu.json`` (atomically, after every
section, so an interrupted run leaves what it measured); ``--cpu-smoke`` runs the same
code at tiny sizes on the CPU (tests/test_benchmarks/test_gpu_check_smoke.py) and never
writes into ``benchmarks/results``.
"""
from __future__ import annotations

import argparse
import math
import os.path as osp
import sys
import tempfile
import time
import traceback

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from benchmarks.common import RESULTS_DIR, machine, sync, write_result  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'selfpose3d_panoptic.py')
# the smoke mode: the same model types at toy sizes
SMOKE = {
    'model.input_size': (128, 64), 'model.heatmap_size': (32, 16),
    'model.heatmap_net_2d.backbone': dict(type='ResNet', depth=18, stem_channels=8,
                                          base_channels=8),
    'model.heatmap_net_2d.head': dict(type='HeatmapHead', in_channels=64, out_channels=15,
                                      deconv_out_channels=(16, 16, 16),
                                      deconv_kernel_sizes=(4, 4, 4)),
    'model.root_head.cube_shape': (16, 16, 4), 'model.root_head.mid_channels': 4,
    'model.root_head.max_proposals': 2, 'model.pose_head.cube_shape': (8, 8, 8),
    'model.pose_head.mid_channels': 4,
    'model.objective.attention_net.deconv_out_channels': (16, 16, 16),
}


def build(args, device):
    """(model, training frames, test frames, stages) from the config."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS, MODELS

    import selfpose3d_mm  # noqa: F401
    init_default_scope('mmpose')
    cfg = Config.fromfile(args.config)
    if args.cpu_smoke:
        cfg.merge_from_dict(SMOKE)
    cfg.model.test_cfg = dict(cfg.model.get('test_cfg') or {}, threshold=-1.0)
    model = MODELS.build(cfg.model).to(device)
    head, size = model.root_head, tuple(model.input_size)
    world = dict(type='SyntheticMultiViewDataset', space_center=head.space_center,
                 space_size=head.space_size, num_people=(2, 4), outside_prob=0.0,
                 rig=dict(type='ring', num_views=args.views, image_size=args.image_size),
                 with_images=model.with_heatmap_net, seed=0, num_samples=args.frames)
    selfsup = [dict(type='MultiViewRandomAffinePair', input_size=size, rot_factor=45.0,
                    scale_range=(0.1, 0.35)),
               dict(type='MultiViewAffine'), dict(type='PackMultiViewInputs', with_gt=False)]
    test = [dict(type='MultiViewResize', input_size=size), dict(type='MultiViewAffine'),
            dict(type='PackMultiViewInputs')]
    train_ds = DATASETS.build(dict(world, split='train', pipeline=selfsup))
    test_ds = DATASETS.build(dict(world, split='val', test_mode=True, pipeline=test))
    train_items = [train_ds[i] for i in range(args.frames)]  # rendered once, reused
    test_items = [test_ds[i] for i in range(args.frames)]
    stages = next((h['stages'] for h in cfg.get('custom_hooks', [])
                   if h.get('type') == 'TrainingStageHook'), [])
    return model, train_items, test_items, [dict(s) for s in stages]


def collate(items, batch_size):
    from selfpose3d_mm.datasets import multiview_collate
    return multiview_collate([items[i % len(items)] for i in range(batch_size)])


def autocast(device, amp: bool):
    dtype = torch.float16 if device.type == 'cuda' else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype, enabled=amp)


def reset_peak(device):
    if device.type == 'cuda':
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gb(device):
    return torch.cuda.max_memory_allocated() / 2**30 if device.type == 'cuda' else None


def is_oom(e: BaseException) -> bool:
    text = str(e).lower()
    return isinstance(e, torch.cuda.OutOfMemoryError) or 'out of memory' in text \
        or 'alloc_failed' in text


def predict(model, data, device, amp: bool):
    """``model.test_step`` with the network under autocast (the data preprocessor, host
    affines and rig keys, outside it, as in mmengine's AMP on a GPU)."""
    batch = model.data_preprocessor(data, False)
    with autocast(device, amp):
        return model(**batch, mode='predict')


def inference(model, items, device, amp: bool, args, deadline) -> dict:
    """Frames/s at batch 1, 2, 4, ... until out of memory, the cap or the deadline."""
    model.eval()
    out, bs = {}, 1
    while bs <= args.max_batch:
        if time.perf_counter() > deadline:
            out['stopped'] = f'time budget reached before batch {bs}'
            break
        data = collate(items, bs)
        try:
            reset_peak(device)
            with torch.no_grad():
                predict(model, data, device, amp)  # warm-up (cuDNN, cached root grid)
                sync(device)
                t = time.perf_counter()
                for _ in range(args.repeats):
                    preds = predict(model, data, device, amp)
                sync(device)
            dt = (time.perf_counter() - t) / args.repeats
            peak = peak_gb(device)
        except Exception as e:  # noqa: BLE001 (out of memory ends the doubling)
            if bs == 1:
                raise
            # out of memory, or a size a kernel refuses (32-bit indexing): the doubling
            # ends, the batches measured so far stay
            out['stopped_at_batch'] = bs
            out['stopped_by'] = 'out of memory' if is_oom(e) else f'{type(e).__name__}: {e}'
            break
        finally:
            del data  # before the next, larger batch
        joints = preds[0].pred_instances.keypoints_3d
        out[f'batch_{bs}'] = dict(fps=bs / dt, s_per_batch=dt, peak_memory_gb=peak,
                                  proposals_per_frame=int(joints.shape[0]),
                                  finite=bool(torch.isfinite(joints).all()))
        out['largest_batch'] = bs
        bs *= 2
    if 'batch_1' in out:
        out['fps_batch_1'] = out['batch_1']['fps']
        out['fps_largest_batch'] = out[f'batch_{out["largest_batch"]}']['fps']
    return out


def train_stage(model, items, stage: dict, device, amp: bool, args) -> dict:
    """Seconds per optimiser step of one stage (warm-up + ``repeats`` timed steps)."""
    model.train()
    model.set_stage(train=stage['train'], losses=stage['losses'],
                    labels=stage.get('labels', 'soft'))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=float(stage.get('lr') or 1e-4))
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == 'cuda')
    data = collate(items, args.train_batch)
    reset_peak(device)
    times, losses = [], {}
    for step in range(args.repeats + 1):
        sync(device)
        t = time.perf_counter()
        batch = model.data_preprocessor(data, True)
        with autocast(device, amp):
            out = model(**batch, mode='loss')
            loss = sum(v for k, v in out.items() if k.startswith('loss'))
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        sync(device)
        if step:
            times.append(time.perf_counter() - t)
        losses = {k: float(v.detach()) for k, v in out.items() if k.startswith('loss')}
    return dict(s_per_step=min(times), batch_size=args.train_batch,
                trainable_parameters_M=sum(p.numel() for p in params) / 1e6,
                peak_memory_gb=peak_gb(device), losses=losses,
                finite=all(math.isfinite(v) for v in losses.values()))


def unprojection(model, items, device, args) -> dict:
    """Batched (the model's path) vs the looped reference, on the model's cubes."""
    from benchmarks.common import best_of
    from benchmarks.unprojection import loop_unproject
    from selfpose3d_mm.geometry import make_voxel_grid, unproject_heatmaps

    data = model.data_preprocessor(collate(items, 1), False)
    batch = data['inputs']
    cams, aff = batch.cameras, batch.affines[:, 0]
    C, (w, h) = batch.num_views, model.heatmap_size
    head, K = model.root_head, model.root_head.max_proposals
    g = torch.Generator().manual_seed(0)
    hm = torch.rand(1, C, model.num_joints, h, w, generator=g).to(device)
    root_in = model.root_input(hm)
    root_grid = make_voxel_grid(torch.tensor(head.space_center, device=device),
                                head.space_size, head.cube_shape)[None, None]
    centers = torch.tensor(head.space_center, device=device) + (
        torch.rand(1, K, 3, generator=g).to(device) - 0.5) * torch.tensor(
        head.space_size, device=device) * 0.8
    cubes = make_voxel_grid(centers, model.pose_head.cube_size, model.pose_head.cube_shape)
    key = batch.grid_keys[0]
    cases = dict(
        root_cube_cached_grid=(
            lambda: model.root_grid.unproject(root_in, cams, aff, key=key).unsqueeze(1),
            lambda: loop_unproject(root_in, cams, aff, root_grid)),
        person_cubes=(lambda: unproject_heatmaps(hm, cams, aff, cubes),
                      lambda: loop_unproject(hm, cams, aff, cubes)))
    out = dict(root_cube_shape=list(head.cube_shape),
               person_cubes_shape=[K, *model.pose_head.cube_shape])
    with torch.no_grad():
        for name, (batched, loop) in cases.items():
            diff = float((batched() - loop()).abs().max())
            tb, tl = best_of(batched, args.repeats, device), best_of(loop, args.repeats, device)
            out[name] = dict(batched_s=tb, loop_s=tl, speedup=tl / tb, max_abs_diff=diff)
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default=CONFIG)
    p.add_argument('--device', default=None, help='cuda (default when available) or cpu')
    p.add_argument('--cpu-smoke', action='store_true',
                   help='tiny sizes on the CPU (the test suite); never writes to '
                   'benchmarks/results')
    p.add_argument('--out', default=None, help='result JSON (default benchmarks/results/'
                   'gpu.json; with --cpu-smoke a file in the temp folder)')
    p.add_argument('--max-batch', type=int, default=None, help='cap of the batch doubling '
                   '(default 64; smoke 2)')
    p.add_argument('--train-batch', type=int, default=1, help='batch of a training step')
    p.add_argument('--repeats', type=int, default=None, help='timed runs (default 3; '
                   'smoke 1)')
    p.add_argument('--frames', type=int, default=None, help='distinct rendered frames '
                   '(default 4; smoke 2), repeated to fill a batch')
    p.add_argument('--views', type=int, default=5)
    p.add_argument('--image-size', type=int, nargs=2, default=None,
                   help='rig image size (default 1920 1080; smoke 320 180)')
    p.add_argument('--budget-s', type=float, default=420.0,
                   help='time budget: sections still to run are skipped after it')
    args = p.parse_args(argv)
    smoke = args.cpu_smoke
    args.device = 'cpu' if smoke else (args.device or (
        'cuda' if torch.cuda.is_available() else 'cpu'))
    defaults = dict(max_batch=2 if smoke else 64, repeats=1 if smoke else 3,
                    frames=2 if smoke else 4, image_size=(320, 180) if smoke else (1920, 1080))
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.out is None:
        args.out = osp.join(tempfile.gettempdir(), 'gpu_check_smoke.json') if smoke else \
            osp.join(RESULTS_DIR, 'gpu.json')
    if smoke and osp.commonpath([osp.abspath(args.out), RESULTS_DIR]) == RESULTS_DIR:
        p.error(f'--cpu-smoke writes no result into {RESULTS_DIR} (got --out {args.out})')
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    t0 = time.perf_counter()
    deadline = t0 + args.budget_s
    device = torch.device(args.device)
    torch.manual_seed(0)
    result = dict(machine=machine(), device=str(device), smoke=args.cpu_smoke,
                  config=osp.relpath(args.config, ROOT), errors={},
                  flags=dict(cudnn_benchmark=torch.backends.cudnn.benchmark,
                             cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
                             matmul_precision=torch.get_float32_matmul_precision()))
    model, train_items, test_items, stages = build(args, device)
    result.update(views=args.views, image_size=list(args.image_size),
                  input_size=list(model.input_size), heatmap_size=list(model.heatmap_size),
                  root_cube=list(model.root_head.cube_shape),
                  pose_cube=list(model.pose_head.cube_shape),
                  max_proposals=model.root_head.max_proposals,
                  parameters_M=sum(p.numel() for p in model.parameters()) / 1e6,
                  build_s=time.perf_counter() - t0)

    def section(name, fn):
        if time.perf_counter() > deadline:
            result['errors'][name] = 'skipped: time budget reached'
            return
        t = time.perf_counter()
        try:
            result[name] = fn()
        except Exception as e:  # noqa: BLE001 (the report says what failed, and goes on)
            result['errors'][name] = f'{type(e).__name__}: {e}'
            traceback.print_exc()
        finally:
            reset_peak(device)
        result.setdefault('section_s', {})[name] = time.perf_counter() - t
        write_result(osp.basename(args.out), result, osp.dirname(osp.abspath(args.out)))
        print(f'[gpu_check] {name}: {time.perf_counter() - t:.1f} s', flush=True)

    for amp in (False, True):
        # the batch doubling gets a fifth of the budget per AMP setting at most
        section(f'inference_amp_{"on" if amp else "off"}',
                lambda amp=amp: inference(model, test_items, device, amp, args, min(
                    deadline, time.perf_counter() + args.budget_s / 5)))
    for amp in (False, True):
        for stage in stages:
            section(f'train_{stage.get("name", "stage")}_amp_{"on" if amp else "off"}',
                    lambda s=stage, amp=amp: train_stage(model, train_items, s, device, amp,
                                                         args))
    section('unprojection', lambda: unprojection(model, test_items, device, args))
    result['total_s'] = time.perf_counter() - t0
    path = write_result(osp.basename(args.out), result, osp.dirname(osp.abspath(args.out)))
    print(f'[gpu_check] written {path} ({result["total_s"]:.0f} s, '
          f'{len(result["errors"])} errors)')
    return result


if __name__ == '__main__':
    main()
