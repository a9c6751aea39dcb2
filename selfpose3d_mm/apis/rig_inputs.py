"""The inferencer's custom-rig input: a calibration, frames, 2D poses → a dataset, and the
rig's capture space.

The capture space of a custom rig (the box drawn in the 3D pictures; for the
triangulation baseline also the box a person's root must lie in), first found of:

1. ``space_center`` + ``space_size`` given with the rig (``--space-center/--space-size``);
2. the space of the config when the config is a custom-rig config (its test dataset is a
   ``CustomRigDataset`` with a space: e.g. a child of ``configs/selfpose3d_custom_rig.py``
   with the lines of ``tools/estimate_space.py`` pasted);
3. learned models: the network's root cube (the space it searches);
   the triangulation baseline: estimated from the cameras and the pseudo poses
   (:func:`~selfpose3d_mm.apis.capture_space.estimate_capture_space`, logged).

A config of another world (``configs/triangulation_synthetic.py``'s synthetic studio) says
nothing about the user's rig, so its space is not used for a custom rig.
"""
from __future__ import annotations

from typing import Optional, Tuple

from mmengine.logging import print_log

from selfpose3d_mm.datasets import CustomRigDataset
from .capture_space import estimate_capture_space
from .methods import InferenceMethod

__all__ = ['RIG_KEYS', 'HeatmapInputError', 'build_rig_dataset', 'config_rig_space']

RIG_KEYS = ('calibration', 'images', 'videos', 'pseudo_labels', 'views',
            'calibration_format', 'calibration_kwargs', 'frame_range', 'interval',
            'space_center', 'space_size')


class HeatmapInputError(ValueError):
    """A model that reads 2D poses (heatmap-input, triangulation) was given none."""


def config_rig_space(cfg) -> Optional[Tuple[tuple, tuple]]:
    """The capture space of a custom-rig config (its test or train dataset is a
    ``CustomRigDataset`` with ``space_center``/``space_size``), else None."""
    for split in ('test_dataloader', 'train_dataloader'):
        try:
            ds = cfg[split]['dataset']
        except (KeyError, TypeError):
            continue
        if ds is not None and ds.get('type') == 'CustomRigDataset' and \
                ds.get('space_center') is not None and ds.get('space_size') is not None:
            return (tuple(float(v) for v in ds['space_center']),
                    tuple(float(v) for v in ds['space_size']))
    return None


def _check(spec: dict, method: InferenceMethod, where: str, refine: bool):
    unknown = set(spec) - set(RIG_KEYS)
    if unknown:
        raise TypeError(f'MultiViewPoseInferencer: unknown input keys {sorted(unknown)}; '
                        f'a custom rig takes {list(RIG_KEYS)}')
    if not spec.get('calibration'):
        raise ValueError('MultiViewPoseInferencer: a custom rig needs `calibration` '
                         '(or give a dataset split: "test")')
    if (spec.get('space_center') is None) != (spec.get('space_size') is None):
        raise ValueError('MultiViewPoseInferencer: give both space_center and space_size '
                         '(mm), or neither')
    if not method.is_image_model and not spec.get('pseudo_labels'):
        what = ('the triangulation baseline triangulates 2D poses' if
                method.is_triangulation else 'it is a heatmap-input model (no '
                '`heatmap_net_2d`): it renders its input heatmaps from 2D poses, not from '
                'the images')
        raise HeatmapInputError(
            f'the model of {where} reads 2D poses: {what}, so it needs a pseudo-label '
            'file: pass `pseudo_labels=` (--pseudo-labels; format selfpose3d_mm/'
            'pseudo_labels, see selfpose3d_mm/io/pseudo_labels.py; tools/pseudo_label.py '
            'writes one), or use an image-path model (a config with `heatmap_net_2d`, e.g. '
            'configs/selfpose3d_synthetic_images.py)')
    if refine and not spec.get('pseudo_labels'):
        raise ValueError('refinement (--refine) fits the 3D poses to the 2D poses of every '
                         'view: pass `pseudo_labels=` (--pseudo-labels) with the rig')
    if method.is_image_model and not (spec.get('images') or spec.get('videos')):
        raise ValueError('MultiViewPoseInferencer: the image-path model needs the '
                         'frames: give `images` (view -> folder) or `videos` '
                         '(view -> file)')


def build_rig_dataset(spec: dict, method: InferenceMethod, cfg=None, where: str = '',
                      refine: bool = False):
    """The frames of a custom rig (:class:`CustomRigDataset`, empty pipeline, images
    on) and the ``source`` entry of ``poses3d.json`` (what was read, the views and the
    capture space with its origin)."""
    _check(spec, method, where or 'the config', refine)
    src = spec.get('images') or spec.get('videos')
    views = spec.get('views')
    if views is None and isinstance(src, dict):
        views = [str(v) for v in src]
    given = None
    if spec.get('space_center') is not None:
        given = (tuple(float(v) for v in spec['space_center']),
                 tuple(float(v) for v in spec['space_size']))
    space, origin = given, 'given'
    if space is None and cfg is not None:
        space, origin = config_rig_space(cfg), 'config'
    cube = method.search_cube
    if space is None and cube is not None:
        space, origin = cube, 'network root cube'
    placeholder = space or ((0.0, 0.0, 800.0), (8000.0, 8000.0, 2000.0))
    ds = CustomRigDataset(
        calibration=spec['calibration'], pseudo_labels=spec.get('pseudo_labels'),
        images=spec.get('images'), videos=spec.get('videos'), views=views,
        calibration_format=spec.get('calibration_format'),
        calibration_kwargs=spec.get('calibration_kwargs'),
        frame_range=spec.get('frame_range'), interval=spec.get('interval', 1),
        with_images=True, test_mode=True, pipeline=[],
        space_center=placeholder[0], space_size=placeholder[1],
        # the dataset warns when a space given for a learned model leaves its cube
        root_cube_space=None if cube is None or origin == 'network root cube' else dict(
            space_center=cube[0], space_size=cube[1]))
    if space is None:  # triangulation / a frame-space model, no stated space: estimate it
        est = estimate_capture_space(ds.cameras, ds.labels)
        space = (tuple(est['space_center']), tuple(est['space_size']))
        origin = f'estimated ({est["method"]})'
        print_log(f'capture space of {ds.calibration} estimated from the '
                  f'{est["method"]}: space_center = {space[0]}, space_size = {space[1]} '
                  '(give space_center/space_size, --space-center/--space-size, to fix it)',
                  logger='current')
    ds.space_center, ds.space_size = space
    source = {k: v for k, v in spec.items() if v is not None}
    source['views'] = list(ds.views)
    source['space'] = dict(center=list(space[0]), size=list(space[1]), origin=origin)
    return ds, dict(type='CustomRigDataset', **source)
