"""Evaluate a checkpoint (mmengine Runner), mmpose-style.

    python tools/test.py CONFIG [CHECKPOINT] [--work-dir DIR] [--out preds.npz|preds.json]
                         [--cfg-options k=v ...] [--launcher ...]

CHECKPOINT may be omitted only for models without parameters (e.g. the triangulation
baseline, ``configs/triangulation_synthetic.py``). It is read with torch's weights-only
loader (tensors and plain data: ``selfpose3d_mm.utils.safe_load``); a file naming anything
else is refused before it runs.

``--out`` writes the test split's predicted 3D poses in the package's predictions format
(``selfpose3d_mm/io/predictions.py``, the inferencer's ``poses3d.npz`` / ``poses3d.json``),
chosen by the extension:

* ``.npz`` (plain arrays, ``np.load(..., allow_pickle=False)``): ``keypoints_3d``
  (F, P_max, J, 3) float32 world mm (z up), ``scores`` (F, P_max), ``root_centers``
  (F, P_max, 3) — NaN where a frame has fewer than P_max persons, persons by decreasing
  score —, ``num_persons`` (F,), ``frame_ids`` (F,) str, ``joint_names`` (J,) str,
  ``skeleton_links`` (L, 2), ``units`` = ``'mm'``; frames in the dataset's order.
* ``.json``: ``{"format": "selfpose3d_mm/predictions3d", "skeleton", "model", "source",
  "cameras" (the rigs), "frames": [{"frame_id", "sample_idx", "rig", "persons": [{"score",
  "root", "keypoints_3d"}]}]}`` (``selfpose3d_mm.io.load_predictions`` reads it back).

For models without a root proposal (the triangulation baseline), ``root_centers`` is the
root joint (mid-hip) of each pose. Both files feed ``poses=dict(type='predictions',
path=...)`` of the Shelf / Campus pseudo-3D configs. Pickle output is not written (a pickle
runs code when loaded); legacy ``.pkl`` dumps are still read by that pose source through a
restricted unpickler.
"""
import argparse
import os
import os.path as osp

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.evaluator import BaseMetric
from mmengine.runner import Runner
from mmpose.registry import METRICS

from selfpose3d_mm.engine.distributed import configure_distributed
from selfpose3d_mm.apis.config_links import apply_linked_settings

OUT_FORMATS = ('.npz', '.json')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Test (and evaluate) a selfpose3d_mm model')
    p.add_argument('config', help='test config file path')
    p.add_argument('checkpoint', nargs='?', default=None,
                   help='checkpoint file (omit for models without parameters)')
    p.add_argument('--work-dir', help='the dir to save evaluation results')
    p.add_argument('--out', help='write the predicted 3D poses to this .npz or .json file '
                   '(selfpose3d_mm/io/predictions.py)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override settings in the config, key=value')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    if args.out is not None and osp.splitext(args.out)[1].lower() not in OUT_FORMATS:
        p.error(f'--out {args.out}: the file must end with .npz or .json (the predictions '
                'format of selfpose3d_mm/io/predictions.py); pickle output was removed '
                'because a pickle runs code when it is loaded')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _np(x) -> np.ndarray:
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


@METRICS.register_module(name='DumpPoses3D', force=True)
class DumpPoses3D(BaseMetric):
    """``--out``: collects every test frame's ``pred_instances`` and writes them in the
    predictions format (.npz or .json, see the module docstring) on the main process.
    Computes no metric."""

    default_prefix = 'dump'

    def __init__(self, out_file_path: str, header: dict = None, collect_device='cpu',
                 prefix=None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        ext = osp.splitext(out_file_path)[1].lower()
        if ext not in OUT_FORMATS:
            raise ValueError(f'DumpPoses3D: out_file_path {out_file_path} must end with '
                             f'.npz or .json')
        self.out_file_path, self.header = out_file_path, dict(header or {})
        self._rigs_seen = set()

    def process(self, data_batch, data_samples) -> None:
        from selfpose3d_mm.io import rig_to_dict
        from selfpose3d_mm.skeleton import PANOPTIC15_NAMES, PANOPTIC15_ROOT_INDEX
        for ds in data_samples:  # frames of the batch
            pred = ds['pred_instances']
            kp = _np(pred['keypoints_3d']).astype(np.float32)  # (N, J, 3)
            sc = _np(pred['scores']).astype(np.float32).reshape(-1)
            if 'root_centers' in pred:
                roots = _np(pred['root_centers']).astype(np.float32).reshape(-1, 3)
            elif kp.shape[1] == len(PANOPTIC15_NAMES):
                roots = kp[:, PANOPTIC15_ROOT_INDEX]
            else:
                roots = np.nanmean(kp, 1) if len(kp) else np.zeros((0, 3), np.float32)
            order = np.argsort(-sc, kind='stable')
            r = dict(frame_id=str(ds.get('frame_id', ds.get('sample_idx'))),
                     sample_idx=int(ds.get('sample_idx', len(self.results))),
                     keypoints_3d=kp[order], scores=sc[order], root_centers=roots[order])
            cams = ds.get('cameras')
            if cams is not None and hasattr(cams, 'cache_key'):
                r['rig_id'] = str(ds.get('rig_id') or cams.cache_key())
                if r['rig_id'] not in self._rigs_seen:  # one rig document per rig
                    self._rigs_seen.add(r['rig_id'])
                    r['rig_doc'] = rig_to_dict(cams.cpu())
            self.results.append(r)

    def compute_metrics(self, results: list) -> dict:
        from selfpose3d_mm.io import save_predictions_json, save_predictions_npz
        frames = sorted(results, key=lambda r: r['sample_idx'])
        meta = self.dataset_meta or {}
        J = frames[0]['keypoints_3d'].shape[1] if frames else int(
            meta.get('num_keypoints', 0))
        id2name = meta.get('keypoint_id2name', {})
        names = [str(id2name.get(j, f'joint_{j}')) for j in range(J)]
        links = [[int(a), int(b)] for a, b in meta.get('skeleton_links', [])]
        if self.out_file_path.lower().endswith('.npz'):
            save_predictions_npz(self.out_file_path, frames, names, links)
        else:
            rigs, docs = {}, []
            for r in frames:
                if 'rig_doc' in r and r['rig_id'] not in rigs:
                    rigs[r['rig_id']] = len(docs)
                    docs.append(r['rig_doc'])
            for r in frames:
                r['rig'] = rigs.get(r.get('rig_id'), 0)
            header = dict(skeleton=dict(name=str(meta.get('dataset_name', '')),
                                        joints=names, links=links),
                          **self.header, cameras=docs)
            save_predictions_json(self.out_file_path, header, frames)
        return {}


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    apply_linked_settings(cfg)  # a child config's data_root / space reach the datasets
    cfg.launcher = args.launcher
    configure_distributed(cfg, training=False)  # no GPU: gloo (docs/distributed.md)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.out:
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(cfg.test_evaluator, dict) \
            else list(cfg.test_evaluator)
        test_cfg = cfg.model.get('test_cfg') or {}
        header = dict(
            model=dict(config=args.config, checkpoint=args.checkpoint,
                       type=cfg.model.get('type'), score_threshold=test_cfg.get('threshold')),
            source=dict(tool='tools/test.py', dataset=dict(
                type=cfg.test_dataloader.dataset.get('type'),
                data_root=cfg.test_dataloader.dataset.get('data_root'))))
        cfg.test_evaluator.append(dict(type='DumpPoses3D', out_file_path=args.out,
                                       header=header))
    runner = Runner.from_cfg(cfg)
    if args.checkpoint is None:
        n_params = sum(p.numel() for p in runner.model.parameters())
        if n_params:
            raise SystemExit(
                f'tools/test.py: no CHECKPOINT given, but the model '
                f'{type(runner.model).__name__} has {n_params} parameters; pass the '
                'checkpoint to evaluate (only parameter-free models run without one)')
    return runner.test()


if __name__ == '__main__':
    main()
