"""Export a trained SelfPose3D for one fixed rig to TorchScript and ONNX, check the files
against PyTorch and time them (``tools/export.py``; ``docs/export.md``).

The modules are those of :mod:`selfpose3d_mm.models.export` (root stage, pose stage,
the whole model from heatmaps, and from 2D poses or from images). Each part is written
as ``<part>.pt`` (``torch.jit.trace``) and ``<part>.onnx`` (``torch.onnx.export`` with
the dynamo exporter, opset 18, batch axis dynamic, weights inside the file), and
``export.json`` records the rig, the affines, the inputs and outputs of every file, the
threshold to apply to the scores, the check results and the timings.

Checks: every file is loaded back and run on new random inputs, of another batch size
than the traced one; its outputs must equal the PyTorch module's within
:data:`TOLERANCE` (a warning otherwise, an error beyond ``max_error``): heatmap-like
outputs (root volume, scores) absolutely, positions in mm relative to the cube they live
in (proposal centres: the capture space; joints: the person cube). Proposals whose score
ties with another's (suppressed voxels at 0, or an untrained root net) may come out in
another order in another runtime: centres are compared on the proposals with distinct
scores, joints on the proposals found at the same centre in both outputs (a check that
could compare none is reported with a warning).
"""
from __future__ import annotations

import json
import os
import os.path as osp
import time
import warnings
from contextlib import contextmanager
from typing import Dict, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmpose.registry import DATASETS, MODELS

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.io import rig_to_dict
from selfpose3d_mm.models.export import (build_export_modules, rig_heatmap_affines,
                                         rig_input_affines)
from selfpose3d_mm.utils import atomic_open, atomic_path
from .config_links import load_config

__all__ = ['EXPORT_FORMAT', 'EXPORT_FORMATS', 'EXPORT_PARTS', 'TOLERANCE', 'DEFAULT_OPSET',
           'load_model_for_export', 'rig_of_dataset', 'part_io', 'example_inputs',
           'export_rig_model']

EXPORT_FORMAT = 'selfpose3d_mm/export'
EXPORT_FORMATS = ('onnx', 'torchscript')
EXPORT_PARTS = ('root_stage', 'pose_stage', 'model_heatmaps', 'model_poses2d',
                'model_images')
TOLERANCE = 1e-4
DEFAULT_OPSET = 18
_OUTPUTS = dict(root_stage=('root_volume', 'centers', 'scores'), pose_stage=('joints', ))
_INPUTS = dict(root_stage=('heatmaps', ), pose_stage=('heatmaps', 'centers'),
               model_heatmaps=('heatmaps', ),
               model_poses2d=('keypoints', 'keypoint_scores', 'keypoint_visible'),
               model_images=('images', ))


def load_model_for_export(config: str, checkpoint: Optional[str],
                          cfg_options: Optional[dict] = None, device: str = 'cpu',
                          space=None):
    """(model in eval mode, config) from a config file and a checkpoint (torch's
    weights-only loader; None: random weights). ``space``: ``(center, size)`` mm, the
    capture space a model with ``root_head.space_from='frame'`` is exported for (its
    root net then covers that space, fitted at the trained voxel size)."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    cfg = load_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model = MODELS.build(cfg.model)
    if getattr(model.root_head, 'space_from', 'config') == 'frame':
        # the exported root stage bakes one sampling grid: one rig and one space. The
        # model searches each frame's space at its trained voxel size: the same weights
        # in 'config' mode on that space fitted at that voxel size are the same network
        if space is None:
            raise ValueError(
                f"{config}: model.root_head.space_from='frame' (the root net searches "
                "each frame's capture space) and the export bakes one: give the rig's "
                'capture space (tools/export.py --space-center X Y Z --space-size X Y Z; '
                'tools/estimate_space.py prints it)')
        fitted = model.root_head.root_space(space)
        cfg.model.root_head.update(space_from='config', space_center=fitted.center,
                                   space_size=fitted.size, cube_shape=fitted.shape)
        model = MODELS.build(cfg.model)
    if type(model).__name__ != 'SelfPose3D':
        raise ValueError(f'{config}: model.type={type(model).__name__}; the export takes '
                         'SelfPose3D models (the triangulation baseline has no network)')
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint file not found: {checkpoint}')
        try:
            load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                            revise_keys=[(r'^module\.', '')])
        except RuntimeError as e:  # torch's state-dict mismatch: another model's weights
            raise ValueError(f'{checkpoint}: its weights do not fit the model of {config} '
                             f'({str(e).splitlines()[0]})') from None
    return model.to(device).eval(), cfg


def rig_of_dataset(cfg: Config, split: str = 'test') -> MultiViewCameras:
    """The rig of the first frame of the config's ``<split>_dataloader.dataset``."""
    try:
        ds_cfg = dict(cfg[f'{split}_dataloader']['dataset'])
    except (KeyError, TypeError):
        raise ValueError(f'{getattr(cfg, "filename", "the config")}: no '
                         f'`{split}_dataloader.dataset` to take the rig from') from None
    ds_cfg['pipeline'] = []
    info = DATASETS.build(ds_cfg).frame_info(0)
    if 'cameras' not in info:
        raise ValueError(f'{split} dataset {ds_cfg.get("type")}: its frames carry no rig')
    return info['cameras']


def part_io(part: str) -> tuple:
    """(input names, output names) of an exported part."""
    return _INPUTS[part], _OUTPUTS.get(part, ('centers', 'scores', 'joints'))


def example_inputs(part: str, model, num_views: int, batch: int, persons: int = 4,
                   seed: int = 0) -> tuple:
    """Random inputs of a part: peaked heatmaps in [0, 1], centres in the capture space,
    2D poses over the image, RGB images."""
    g = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    J, (w, h), (W, H) = model.num_joints, model.heatmap_size, model.input_size
    rand = lambda *s: torch.rand(*s, generator=g)  # noqa: E731
    if part == 'model_poses2d':
        out = (rand(batch, num_views, persons, J, 2) * 1000, rand(batch, num_views, persons, J),
               (rand(batch, num_views, persons, J) > 0.2).float())
    elif part == 'model_images':
        out = ((rand(batch, num_views, 3, H, W) * 255).round(), )
    else:
        out = (rand(batch, num_views, J, h, w) ** 8, )
        if part == 'pose_stage':
            head = model.root_head
            c, s = torch.tensor(head.space_center), torch.tensor(head.space_size)
            out += ((rand(batch, head.max_proposals, 3) - 0.5) * s + c, )
    return tuple(x.to(device) for x in out)


def _distinct(scores: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """(B, K) bool: the proposals whose score differs from every other one of the frame."""
    gap = (scores.unsqueeze(-1) - scores.unsqueeze(-2)).abs()
    gap = gap + torch.eye(scores.shape[-1]) * 1e9
    return gap.min(-1).values > eps


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item() if a.numel() else 0.0


def _errors(part: str, model, ref: Sequence[torch.Tensor], got: Sequence[torch.Tensor]
            ) -> Dict[str, float]:
    """Normalised max errors of each output (see the module docstring), and how many
    proposals the centres (``compared_centers``) and joints (``compared_joints``) were
    compared on."""
    names = part_io(part)[1]
    ref = dict(zip(names, (r.detach().cpu().float() for r in ref)))
    got = dict(zip(names, (torch.as_tensor(x).cpu().float() for x in got)))
    for k in names:
        if ref[k].shape != got[k].shape:
            raise AssertionError(f'{part}: output {k} has shape {tuple(got[k].shape)}, '
                                 f'PyTorch {tuple(ref[k].shape)}')
    space, cube = max(model.root_head.space_size), max(model.pose_head.cube_size)
    err = {k: _max_diff(ref[k], got[k]) for k in names if k in ('root_volume', 'scores')}
    if 'centers' not in ref:  # the pose stage: the same centres in, the joints out
        err['joints'] = _max_diff(ref['joints'], got['joints']) / cube
        return err
    # proposals with distinct scores have the same rank in both: compare their centres
    keep = _distinct(ref['scores'])
    err['centers'] = _max_diff(ref['centers'][keep], got['centers'][keep]) / space
    err['compared_centers'] = int(keep.sum())
    if 'joints' in ref:  # the joints of the proposals found at the same centre in both
        d = (ref['centers'].unsqueeze(2) - got['centers'].unsqueeze(1)).abs().amax(-1)
        dist, j = d.min(-1)  # (B, K): the nearest proposal of the file's output
        same = dist <= 1e-2  # mm: voxel centres, computed alike
        J = ref['joints'].shape[2]
        matched = got['joints'].gather(1, j[..., None, None].expand(-1, -1, J, 3))
        err['joints'] = _max_diff(ref['joints'][same], matched[same]) / cube
        err['compared_joints'] = int(same.sum())
    return err


def _best_ms(fn, args, runs: int) -> float:
    """Fastest of ``runs`` calls, ms (after a warm-up call): the least disturbed by other
    work on the machine."""
    fn(*args)  # warm-up (allocations, lazy initialisation)
    times = []
    for _ in range(max(runs, 1)):
        t0 = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t0) * 1e3)
    return min(times)


@contextmanager
def _quiet():
    """Expected warnings: the tracer freezing the shape checks of the fixed rig, torch's
    deprecation notice of TorchScript, the exporter merging equal dynamic axes."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        warnings.filterwarnings('ignore', category=FutureWarning, module=r'torch\.jit')
        warnings.filterwarnings('ignore', message='.*axis name', category=UserWarning)
        yield


def _export_torchscript(module, args, path):
    with _quiet():
        traced = torch.jit.trace(module, args, check_trace=False)
    with atomic_path(path) as tmp:
        traced.save(tmp)


def _export_onnx(module, args, path, part, opset):
    names_in, names_out = part_io(part)
    batch = torch.export.Dim('batch', min=1, max=1024)
    dyn = {n: {0: batch} for n in names_in}
    if part == 'model_poses2d':
        persons = torch.export.Dim('persons', min=1, max=1024)
        dyn = {n: {0: batch, 2: persons} for n in names_in}
    with atomic_path(path) as tmp, _quiet():
        torch.onnx.export(module, args, tmp, dynamo=True, opset_version=opset,
                          input_names=list(names_in), output_names=list(names_out),
                          dynamic_shapes=dyn, external_data=False, verbose=False)


def _runner(fmt: str, path: str, part: str, device: str):
    """A callable running the exported file: inputs as tensors, outputs as a tuple."""
    if fmt == 'torchscript':
        with _quiet():
            m = torch.jit.load(path, map_location=device)

        def run(*a):
            with torch.no_grad():
                out = m(*a)
            return out if isinstance(out, tuple) else (out, )
        return run
    import onnxruntime as ort
    providers = ['CUDAExecutionProvider'] if device.startswith('cuda') else []
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # as many threads as torch
    sess = ort.InferenceSession(path, options,
                                providers=providers + ['CPUExecutionProvider'])
    names = part_io(part)[0]
    return lambda *a: tuple(sess.run(None, {n: x.detach().cpu().numpy()
                                            for n, x in zip(names, a)}))


def _require_onnx(need_runtime: bool) -> None:
    import importlib.util
    mods = ['onnx', 'onnxscript'] + (['onnxruntime'] if need_runtime else [])
    missing = [m for m in mods if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f'the ONNX export needs {missing}: pip install '
                         '"selfpose3d_mm[onnx]" (onnx, onnxscript for torch\'s exporter, '
                         'onnxruntime for the check and the timings)')


def export_rig_model(model, cameras: MultiViewCameras, out_dir: str,
                     formats: Sequence[str] = EXPORT_FORMATS,
                     parts: Optional[Sequence[str]] = None, opset: int = DEFAULT_OPSET,
                     batch_size: int = 1, verify: bool = True, timing_runs: int = 5,
                     max_error: float = 10 * TOLERANCE, meta: Optional[dict] = None) -> dict:
    """Write the parts of ``model`` for the rig ``cameras`` into ``out_dir``.

    Args:
        model: a ``SelfPose3D`` (eval mode is set). cameras: the fixed rig.
        formats: of :data:`EXPORT_FORMATS`. parts: of :data:`EXPORT_PARTS` (None: every
            part the model has: ``model_poses2d`` for heatmap-input models,
            ``model_images`` for image-path models).
        opset: ONNX opset (>= 17). batch_size: batch of the traced example and of the
            timings (the ONNX files have a dynamic batch axis).
        verify: load every file back and compare it with PyTorch: a warning beyond
            :data:`TOLERANCE`, ``AssertionError`` beyond ``max_error`` (float32 rounding
            of another runtime's kernels, amplified by the soft-argmax's ``beta``, moves
            the joints of an untrained pose net by up to ~1e-4 of the cube; a wrong
            graph moves them by far more).
        timing_runs: calls per timing (the fastest, ms per call at ``batch_size``); 0: no
            timing.
        meta: extra entries of the manifest (e.g. config and checkpoint paths).
    Returns:
        the manifest written to ``out_dir/export.json``.
    """
    bad = set(formats) - set(EXPORT_FORMATS)
    if bad or not formats:
        raise ValueError(f'formats {sorted(bad) or list(formats)}: choose from '
                         f'{list(EXPORT_FORMATS)}')
    if opset < 17:
        raise ValueError(f'opset {opset}: GridSample needs opset >= 16 and the exporter >= 17')
    if 'onnx' in formats:
        _require_onnx(need_runtime=verify or timing_runs > 0)
    modules = build_export_modules(model, cameras)
    parts = list(modules) if parts is None else list(parts)
    missing = [p for p in parts if p not in modules]
    if missing:
        raise ValueError(f'parts {missing} are not available for this model; it has '
                         f'{list(modules)} (model_poses2d: heatmap-input models, '
                         'model_images: image-path models)')
    device = str(next(model.parameters()).device)
    C = cameras.num_views
    test_cfg = model.test_cfg or {}
    manifest = dict(
        format=EXPORT_FORMAT, torch=torch.__version__, opset=int(opset), device=device,
        num_joints=model.num_joints, root_index=model.root_index,
        input_size=list(model.input_size), heatmap_size=list(model.heatmap_size),
        threshold=float(test_cfg.get('threshold', model.root_head.threshold)),
        max_proposals=model.root_head.max_proposals,
        space_center=list(model.root_head.space_center),
        space_size=list(model.root_head.space_size),
        root_cube_shape=list(model.root_head.cube_shape),
        pose_cube_size=list(model.pose_head.cube_size),
        pose_cube_shape=list(model.pose_head.cube_shape),
        rig=rig_to_dict(cameras.cpu()),
        input_affines=rig_input_affines(cameras, model.input_size).tolist(),
        heatmap_affines=rig_heatmap_affines(cameras.cpu(), model.input_size,
                                            model.heatmap_size).tolist(),
        heatmap_input=dict(model.heatmap_input) if not model.with_heatmap_net else None,
        tolerance=TOLERANCE, files={}, **(meta or {}))
    os.makedirs(out_dir, exist_ok=True)
    for part in parts:
        module = modules[part]
        args = example_inputs(part, model, C, batch_size)
        names_in, names_out = part_io(part)
        entry = dict(inputs={n: list(a.shape) for n, a in zip(names_in, args)},
                     outputs=list(names_out), time_ms={})
        with torch.no_grad():
            if timing_runs:
                entry['time_ms']['pytorch'] = _best_ms(module, args, timing_runs)
        for fmt in formats:
            path = osp.join(out_dir, f'{part}.{"onnx" if fmt == "onnx" else "pt"}')
            t0 = time.perf_counter()
            if fmt == 'onnx':
                _export_onnx(module, args, path, part, opset)
            else:
                _export_torchscript(module, args, path)
            entry[f'{fmt}_file'] = osp.basename(path)
            entry[f'{fmt}_export_s'] = round(time.perf_counter() - t0, 2)
            if not (verify or timing_runs):
                continue
            run = _runner(fmt, path, part, device)
            if verify:
                # new inputs, of a batch size the file was not traced with
                check = example_inputs(part, model, C, batch_size + 1, seed=1)
                with torch.no_grad():
                    ref = module(*check)
                err = _errors(part, model, ref if isinstance(ref, tuple) else (ref, ),
                              run(*check))
                entry[f'{fmt}_max_error'] = err
                err_only = {k: v for k, v in err.items() if not k.startswith('compared')}
                worst = {k: v for k, v in err_only.items() if v > max_error}
                if worst:
                    raise AssertionError(f'{path}: outputs differ from PyTorch beyond '
                                         f'{max_error} (normalised): {worst}')
                if 0 in (err.get('compared_centers'), err.get('compared_joints')):
                    warnings.warn(f'{path}: no proposal could be compared (their scores '
                                  'all tie, e.g. an untrained root net): only the scores '
                                  'and volumes were checked', stacklevel=2)
                if max(err_only.values()) > TOLERANCE:
                    warnings.warn(f'{path}: outputs within {max_error} of PyTorch but not '
                                  f'within {TOLERANCE} (normalised): {err_only}',
                                  stacklevel=2)
            if timing_runs:
                entry['time_ms'][fmt] = _best_ms(run, args, timing_runs)
        manifest['files'][part] = entry
        _write_manifest(out_dir, manifest)  # after every part: an interrupted run keeps it
    return manifest


def _write_manifest(out_dir: str, manifest: dict) -> None:
    with atomic_open(osp.join(out_dir, 'export.json')) as f:
        json.dump(manifest, f, indent=1)

