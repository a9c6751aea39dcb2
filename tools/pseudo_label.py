"""Write the 2D pseudo labels of a multi-view dataset: an MMDet person detector, then an
MMPose top-down COCO-17 model, on every view of every frame.

    python tools/pseudo_label.py CONFIG --out FILE [--split train] \\
        [--det-config C --det-checkpoint W] [--pose-config C --pose-checkpoint W]

The default models are the paper's choice: Mask R-CNN X-101-32x4d FPN (COCO, 43.6 box AP)
and HRNet-w48 384x288 (COCO, 76.7 AP); their weights (URLs below) are downloaded on first
use, or pass the downloaded files. The file (selfpose3d_mm/io/pseudo_labels.py)
keeps the raw box and keypoint scores: the model selects its soft and hard label sets from
them (the SelfPose3dObjective's box_thr / hard_keypoint_thr). A killed run resumes where it stopped when
rerun with the same arguments (journal FILE.partial.jsonl) and gives the same file.
"""
import argparse
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from selfpose3d_mm.apis.pseudo_labeling import (DEFAULT_DET_CHECKPOINT, DEFAULT_DET_CONFIG,
                                                DEFAULT_POSE_CHECKPOINT,
                                                DEFAULT_POSE_CONFIG, PersonDetector,
                                                TopDownPose, model_identity, sha256_of,
                                                build_unlabelled_dataset, resolve_config,
                                                run_pseudo_labeling)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='2D pseudo labels (MMDet person boxes + MMPose COCO-17 keypoints) '
                    'of every view of every frame of a multi-view dataset',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f'default weights (download on a connected machine):\n'
               f'  {DEFAULT_DET_CHECKPOINT}\n  {DEFAULT_POSE_CHECKPOINT}')
    p.add_argument('config', help='config whose dataset is labelled')
    p.add_argument('--out', required=True, help='pseudo-label file (.json) to write')
    p.add_argument('--split', default='train', choices=['train', 'val', 'test'],
                   help='which {split}_dataloader.dataset to label')
    p.add_argument('--det-config', default=DEFAULT_DET_CONFIG,
                   help='mmdet config (a file, or mmdet::rel/path.py in the package)')
    p.add_argument('--det-checkpoint', default=DEFAULT_DET_CHECKPOINT,
                   help='detector weights: file or URL ("none": random, tests only)')
    p.add_argument('--pose-config', default=DEFAULT_POSE_CONFIG,
                   help='mmpose top-down COCO-17 config (file or mmpose::rel/path.py)')
    p.add_argument('--pose-checkpoint', default=DEFAULT_POSE_CHECKPOINT,
                   help='pose weights: file or URL ("none": random, tests only)')
    p.add_argument('--det-score-thr', type=float, default=0.5,
                   help='keep person boxes with score >= this')
    p.add_argument('--batch-size', type=int, default=1,
                   help='frames per batch (all their views in one detector and one pose '
                        'forward pass)')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                   help='cpu or cuda[:N]')
    p.add_argument('--overwrite', action='store_true',
                   help='start over: discard an unfinished run (journal) or an existing '
                        'file')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='override settings of CONFIG, e.g. key=value')
    return p.parse_args(argv)


def _ckpt(value):
    return None if value is None or str(value).lower() == 'none' else str(value)


def main(argv=None, on_frame=None):
    """Command-line entry; ``on_frame(index, key)`` is called after each frame is
    journaled (tests use it to interrupt a run)."""
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    from selfpose3d_mm.apis.config_links import apply_linked_settings
    apply_linked_settings(cfg)  # a child config's data_root / space reach the datasets
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    import selfpose3d_mm  # noqa: F401  (registers the datasets)

    det_cfg, pose_cfg = resolve_config(args.det_config), resolve_config(args.pose_config)
    det_ckpt, pose_ckpt = _ckpt(args.det_checkpoint), _ckpt(args.pose_checkpoint)
    dataset, ds_cfg = build_unlabelled_dataset(cfg, args.split)
    settings = dict(config=osp.basename(args.config), split=args.split,
                    dataset_sha256=sha256_of(ds_cfg), det_score_thr=args.det_score_thr,
                    detector=model_identity(det_cfg, det_ckpt),
                    pose=model_identity(pose_cfg, pose_ckpt),
                    device=torch.device(args.device).type)
    models = dict(
        detector=settings['detector']['config'],
        detector_checkpoint=settings['detector']['checkpoint'] or 'none (random weights)',
        pose=settings['pose']['config'],
        pose_checkpoint=settings['pose']['checkpoint'] or 'none (random weights)',
        det_score_thr=str(args.det_score_thr))
    # a finished or mismatched run is reported before the models are loaded
    detector = pose = None

    def lazy_detector(images):
        nonlocal detector
        if detector is None:
            detector = PersonDetector(det_cfg, det_ckpt, args.device, args.det_score_thr)
        return detector(images)

    def lazy_pose(images, boxes):
        nonlocal pose
        if pose is None:
            pose = TopDownPose(pose_cfg, pose_ckpt, args.device)
        return pose(images, boxes)

    print(f'labelling {len(dataset)} frames of {args.config} ({args.split}) with '
          f'{models["detector"]} + {models["pose"]} -> {args.out}')
    res = run_pseudo_labeling(dataset, lazy_detector, lazy_pose, args.out, settings,
                              models, batch_size=args.batch_size, on_frame=on_frame,
                              progress=not args.no_progress, overwrite=args.overwrite)
    if res['complete']:
        print(f'{args.out} is already complete (same settings): nothing to do')
    else:
        print(f'wrote {res["num_frames"]} frames to {args.out}; persons per view: '
              f'{res["num_persons"]}')
    return res


if __name__ == '__main__':
    main()
