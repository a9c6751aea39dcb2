"""The two pretexts that learn from unlabelled synchronized footage, on rendered synthetic
sequences (held-out sequences *and* a held-out rig), CPU-sized.

    python benchmarks/pretext.py [--parts sync retrieval association] [--reuse]

Parts (each one command of the user, a subprocess, then a test on the held-out data):
  sync          configs/pretext/sync_flip_synthetic.py trained with background removal /
                substitution (``mix``, the paper's) and without (``none``); pretext
                accuracies (sync, flip) on the test split of another rig (rig_seed 1)
  retrieval     configs/pretext/mcss_synthetic.py trained; cross-view retrieval
                Mean-PA-MPJPE@{1,10,20} (mm, 3D GT of the held-out frames: evaluation only)
                of the learned embedding vs the same network with random weights vs the
                oracle (retrieval by the true pose)
  finetune      configs/pretext/heatmap2d_synthetic.py (the image path's 2D heatmap net
                on 200 pseudo-labelled frames, 2 epochs) from a random init, from the
                ``sync`` (background mix) backbone and from the ``retrieval`` (MCSS)
                backbone; 2D PCK@0.1 of each on held-out frames (their 3D GT projected:
                evaluation only), beside the PCK of the pseudo poses it learned from;
                and AP / MPJPE of the image path with each 2D net feeding one fixed 3D
                reader (the shipped generalist's root and pose nets; the image path's own
                3D schedule per init does not fit the part's CPU budget)
  association   the triangulation baseline on the realistic hard setting (6-10 people,
                3 cameras, rendered images) with its epipolar association (default) and
                with the MCSS embedding of ``retrieval`` in the association step
Writes benchmarks/results/pretext.json (merged with what is there).
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.common import (METRIC_KEYS, RESULTS_DIR, machine,  # noqa: E402
                               test_with_runner, train_with_tool, write_result)

OUT = 'pretext.json'
SYNC = 'configs/pretext/sync_flip_synthetic.py'
MCSS = 'configs/pretext/mcss_synthetic.py'
TRIANGULATION = 'configs/triangulation_synthetic.py'
HELD_OUT_RIG = 1   # rig_seed of the test footage (training: 0)
HARD = dict(num_people=(6, 10), with_images=True,
            rig=dict(type='ring', num_views=3, image_size=(1920, 1080)))
HARD_FRAMES = 60
HEATMAP_2D = 'configs/pretext/heatmap2d_synthetic.py'
PCK_THR = 0.1
READOUT_FRAMES = 100


def _train(config: str, name: str, options=(), reuse: bool = False) -> dict:
    return train_with_tool(osp.join(ROOT, config),
                           osp.join(ROOT, 'work_dirs', f'bench_pretext_{name}'),
                           cfg_options=options, reuse=reuse,
                           pattern='epoch_*.pth' if config == HEATMAP_2D else 'iter_*.pth')


def _test(config: str, checkpoint, update) -> dict:
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, config))
    update(cfg)
    return test_with_runner(cfg, osp.join(ROOT, checkpoint) if checkpoint else None,
                            osp.join(ROOT, 'work_dirs', 'bench_pretext_test'))


def _held_out_pairs(background: str):
    def update(cfg):
        ds = cfg.test_dataloader.dataset
        ds.background = background
        ds.dataset.update(split='test', rig_seed=HELD_OUT_RIG)
    return update


def part_sync(reuse: bool) -> dict:
    out = {}
    for background in ('mix', 'none'):
        info = _train(SYNC, f'sync_{background}',
                      [f'train_dataloader.dataset.background={background}'], reuse)
        out[f'background_{background}'] = dict(
            _test(SYNC, info['checkpoint'], _held_out_pairs(background)), **info)
    return out


def _held_out_views(cfg):
    cfg.test_dataloader.dataset.dataset.update(split='test', rig_seed=HELD_OUT_RIG)


def part_retrieval(reuse: bool) -> dict:
    import torch
    info = _train(MCSS, 'mcss', (), reuse)
    learned = _test(MCSS, info['checkpoint'], _held_out_views)
    torch.manual_seed(0)
    random_init = _test(MCSS, None, _held_out_views)
    return dict(mcss=dict(learned, **info), random_init=random_init)


def _backbone(checkpoint: str, name: str) -> str:
    """``tools/extract_backbone.py CHECKPOINT OUT`` (the user's command); OUT's path."""
    import subprocess
    out = osp.join('work_dirs', f'bench_pretext_{name}', 'backbone.pth')
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'extract_backbone.py'),
                    osp.join(ROOT, checkpoint), osp.join(ROOT, out)], check=True,
                   stdout=subprocess.DEVNULL)
    return out


def pck_2d(config: str, checkpoint: str, thr: float = PCK_THR) -> dict:
    """2D PCK@thr of the 2D heatmap net of ``checkpoint`` on the config's test frames, and
    of the pseudo poses of the same frames (rendered as heatmaps, read the same way): per
    joint and overall. The test frames' 3D GT, projected into each view, is the truth."""
    import numpy as np
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner, load_checkpoint

    from selfpose3d_mm.evaluation.functional import heatmap_pck
    from selfpose3d_mm.geometry.affine import apply_affine
    from selfpose3d_mm.geometry.rendering import render_gaussian_heatmaps
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.work_dir = osp.join(ROOT, 'work_dirs', 'bench_pretext_test')
    cfg.visualizer = dict(type='Visualizer', vis_backends=[])
    runner = Runner.from_cfg(cfg)
    model = runner.model
    load_checkpoint(model, osp.join(ROOT, checkpoint), map_location='cpu', logger='silent')
    model.eval()
    sums = {k: np.zeros((2, model.num_joints)) for k in ('net', 'pseudo')}  # hits, counted
    with torch.no_grad():
        for data in runner.test_dataloader:
            data = model.data_preprocessor(data, False)
            batch, samples = data['inputs'], data['data_samples']
            hms = dict(net=model.heatmaps(batch, 0))
            kp, scores, vis = batch.pseudo.view_set(0)
            hms['pseudo'] = render_gaussian_heatmaps(kp, vis, model.heatmap_size, 2.0)
            for b, sample in enumerate(samples):   # evaluation only: per frame is fine
                gt = sample.gt_instances
                G, J = gt.keypoints_3d.shape[:2]
                if G == 0:
                    continue
                cams = batch.cameras_of(b)
                uv, front = cams.project(gt.keypoints_3d.reshape(-1, 3).to(batch.device),
                                         return_valid=True)          # (C, G*J, 2)
                uv = apply_affine(uv, batch.affines[b, 0]).view(-1, G, J, 2)
                inside = ((uv >= 0) & (uv <= uv.new_tensor(model.heatmap_size) - 1)).all(-1)
                visible = front.view(-1, G, J) & inside & \
                    gt.keypoints_3d_visible.bool().to(batch.device)[None]
                for key, hm in hms.items():
                    hits, counted = heatmap_pck(hm[b], uv, visible, thr)
                    sums[key] += np.stack([hits.sum((0, 1)).numpy(),
                                           counted.sum((0, 1)).numpy()])
    out = {}
    for key, (hits, counted) in sums.items():
        out[key] = dict(pck=100.0 * hits.sum() / max(counted.sum(), 1),
                        per_joint=[round(100.0 * a / max(c, 1), 2)
                                   for a, c in zip(hits, counted)],
                        joints_counted=int(counted.sum()))
    return out


def readout_3d(checkpoint, name: str, refine: bool) -> dict:
    """The image path at test time with the 2D net of ``checkpoint`` feeding the 3D stages
    (root net on each frame's space, pose net) of the generalist that ships with the
    package, trained on other rigs and never on this footage: AP / MPJPE of the 2D nets
    through one fixed 3D reader, on ``READOUT_FRAMES`` test frames (``refine``: with the
    test-time refinement by the pseudo poses). ``checkpoint=None``: the reader on the
    pseudo poses themselves (heatmap-input mode at the same heatmap size), the reference."""
    import torch
    from mmengine.config import Config

    from selfpose3d_mm.apis import named_model_config
    from selfpose3d_mm.utils.safe_load import load_checkpoint_file
    generalist, weights = named_model_config('generalist')
    cfg = Config.fromfile(osp.join(ROOT, HEATMAP_2D))
    cfg.model.update({k: generalist.model[k] for k in
                      ('root_head', 'pose_head', 'root_channels', 'test_cfg')}, objective=None)
    if refine:
        cfg.model.test_cfg = dict(cfg.model.test_cfg, refine=dict())
    cfg.test_dataloader.dataset.num_samples = READOUT_FRAMES
    state = {k: v for k, v in load_checkpoint_file(weights)['state_dict'].items()
             if not k.startswith('objective.')}
    if checkpoint is None:
        cfg.model.update(heatmap_net_2d=None, heatmap_input=generalist.model.heatmap_input)
        cfg.test_dataloader.dataset.with_images = False
    else:
        net_2d = load_checkpoint_file(osp.join(ROOT, checkpoint))['state_dict']
        state.update({k: v for k, v in net_2d.items()
                      if k.startswith(('backbone.', 'head_2d.'))})
    merged = osp.join(ROOT, 'work_dirs', f'bench_pretext_finetune_{name}', 'readout_3d.pth')
    os.makedirs(osp.dirname(merged), exist_ok=True)
    torch.save(dict(state_dict=state), merged)
    m = test_with_runner(cfg, merged, osp.join(ROOT, 'work_dirs', 'bench_pretext_test'))
    return dict({k: m[k] for k in METRIC_KEYS}, refine=refine, frames=READOUT_FRAMES)


def part_finetune(sync_checkpoint: str, mcss_checkpoint: str, reuse: bool) -> dict:
    """The 2D heatmap net fine-tuned with the same schedule from three inits."""
    inits = dict(random_init=None,
                 sync_pretrained=_backbone(sync_checkpoint, 'sync_mix'),
                 mcss_pretrained=_backbone(mcss_checkpoint, 'mcss'))
    out = {}
    for name, backbone in inits.items():
        options = [] if backbone is None else [
            'model.heatmap_net_2d.backbone.init_cfg.type=Pretrained',
            'model.heatmap_net_2d.backbone.init_cfg.prefix=backbone.',
            f'model.heatmap_net_2d.backbone.init_cfg.checkpoint={backbone}']
        info = _train(HEATMAP_2D, f'finetune_{name}', options, reuse)
        pck = pck_2d(HEATMAP_2D, info['checkpoint'])
        out[name] = dict(pck_2d=pck['net'], backbone=backbone, **info,
                         readout_3d=readout_3d(info['checkpoint'], name, refine=False),
                         readout_3d_refine=readout_3d(info['checkpoint'], name, refine=True))
        out['pseudo_poses'] = dict(pck_2d=pck['pseudo'])   # the same frames' labels
    out['pseudo_poses'].update(readout_3d=readout_3d(None, 'pseudo_poses', refine=False),
                               readout_3d_refine=readout_3d(None, 'pseudo_poses', refine=True))
    out['threshold'] = PCK_THR
    return out


def part_association(checkpoint: str) -> dict:
    from mmengine.config import Config
    mcss = Config.fromfile(osp.join(ROOT, MCSS)).model
    mcss.pop('data_preprocessor', None)
    rows = dict(default=None,
                embedding_gate=dict(mode='gate', embedding_threshold=1.0),
                embedding_sum=dict(mode='sum', weight=0.3, embedding_threshold=1.0))
    out = {}
    for name, assoc in rows.items():
        def update(cfg, assoc=assoc):
            cfg.test_dataloader.dataset.update(HARD, num_samples=HARD_FRAMES)
            cfg.test_dataloader.num_workers = 0
            cfg.test_dataloader.persistent_workers = False
            if assoc is not None:
                cfg.model.update(embedder=mcss, embedder_checkpoint=osp.join(ROOT, checkpoint),
                                 embedding_crop=dict(crop_size=64))
                cfg.model.triangulation = dict(cfg.model.get('triangulation') or {},
                                               embedding_association=assoc)
        m = _test(TRIANGULATION, None, update)
        out[name] = dict({k: m[k] for k in METRIC_KEYS}, association=assoc,
                         ms_per_frame=1000 * m['test_s'] / HARD_FRAMES)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parts = ['sync', 'retrieval', 'finetune', 'association']
    p.add_argument('--parts', nargs='+', default=parts, choices=parts)
    p.add_argument('--reuse', action='store_true', help='reuse the models trained before')
    args = p.parse_args()
    import selfpose3d_mm  # noqa: F401
    path = osp.join(RESULTS_DIR, OUT)
    result = json.load(open(path)) if osp.exists(path) else {}
    result.update(machine=machine(), held_out_rig_seed=HELD_OUT_RIG)
    if 'sync' in args.parts:
        result['sync'] = part_sync(args.reuse)
        write_result(OUT, result)
    if 'retrieval' in args.parts or 'association' in args.parts:
        if 'retrieval' in args.parts:
            result['retrieval'] = part_retrieval(args.reuse)
            write_result(OUT, result)
        if 'association' in args.parts:
            ckpt = result['retrieval']['mcss']['checkpoint']
            result['association'] = dict(part_association(ckpt), hard=HARD,
                                         frames=HARD_FRAMES)
            write_result(OUT, result)
    if 'finetune' in args.parts:
        result['finetune'] = part_finetune(
            result['sync']['background_mix']['checkpoint'],
            result['retrieval']['mcss']['checkpoint'], args.reuse)
    print(write_result(OUT, result))


if __name__ == '__main__':
    main()
