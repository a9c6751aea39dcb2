"""The methods the inferencer runs, behind one interface: what a model reads, how its
score threshold and test-time options are set, which space it searches.

============================  =========================================================
method                        how to get it
============================  =========================================================
learned model (image path)    a config with ``heatmap_net_2d`` + its checkpoint
learned, heatmap-input        a config without ``heatmap_net_2d`` + its checkpoint: reads
                              the 2D poses of a pseudo-label file
learned + refinement          either of the above with ``refine=True`` (or a dict of
                              knobs): ``model.test_cfg['refine']`` (SelfPose3D only)
triangulation baseline        ``configs/triangulation_synthetic.py`` (no checkpoint), or
                              the alias ``'triangulation'`` (no config at all): reads
                              the 2D poses of a pseudo-label file
============================  =========================================================

Aliases (:data:`METHOD_ALIASES`) are mmpose's inferencer idea (``MMPoseInferencer
('human')``): a name that stands for a model config.
"""
from __future__ import annotations

import copy
import os.path as osp
from contextlib import contextmanager
from typing import Optional, Tuple, Union

from mmengine.config import Config, ConfigDict

from selfpose3d_mm.geometry.association import resolve_triangulation_knobs
from selfpose3d_mm.models import SelfPose3D, TriangulationBaseline
from selfpose3d_mm.models.detectors.refine import refine_cfg, refine_score
from .config_links import apply_linked_settings, load_config

__all__ = ['METHOD_ALIASES', 'resolve_method_config', 'named_model_config',
           'InferenceMethod']

# name → the config it stands for (the 2D poses are mapped through a keep-aspect resize
# to this input size and back: it only adds float rounding)
METHOD_ALIASES = {
    'triangulation': dict(
        default_scope='mmpose',
        model=dict(type='TriangulationBaseline', triangulation=dict()),
        input_size=(1920, 1080)),
}

Space = Tuple[Tuple[float, float, float], Tuple[float, float, float]]


def named_model_config(name: str, cfg_options: Optional[dict] = None) -> Tuple[Config, str]:
    """(config, weights path) of a model the package ships
    (:data:`~selfpose3d_mm.model_zoo.PRETRAINED_MODELS`), set up to predict only: no
    training objective (no attention net to build, no losses)."""
    from selfpose3d_mm.model_zoo import pretrained_model
    config, weights = pretrained_model(name)
    cfg = load_config(config, cfg_options)
    cfg.model.objective = None
    return cfg, weights


def resolve_method_config(model: Union[str, dict, Config]) -> Union[Config, ConfigDict]:
    """A model argument of the inferencer → its config: an alias of
    :data:`METHOD_ALIASES`, a config file (``linked_settings`` applied), or a config."""
    if isinstance(model, str):
        if model in METHOD_ALIASES:
            cfg = Config(copy.deepcopy(METHOD_ALIASES[model]))
            return cfg
        if not osp.isfile(model):
            raise FileNotFoundError(
                f'MultiViewPoseInferencer: {model!r} is neither a config file nor a method '
                f'alias ({sorted(METHOD_ALIASES)})')
        return load_config(model)
    if isinstance(model, Config):
        return apply_linked_settings(copy.deepcopy(model))
    if isinstance(model, dict):
        return Config(copy.deepcopy(dict(model)))
    raise TypeError(f'MultiViewPoseInferencer: model must be a config path, a method alias '
                    f'or a config, got {type(model).__name__}')


def _triple(v) -> Tuple[float, float, float]:
    return tuple(float(x) for x in v)


class InferenceMethod:
    """What the inferencer needs to know of a built model (see the module docstring)."""

    def __init__(self, model, cfg=None):
        self.model = model
        self.cfg = cfg
        self.is_learned = isinstance(model, SelfPose3D)
        self.is_triangulation = isinstance(model, TriangulationBaseline)
        if not (self.is_learned or self.is_triangulation):
            raise TypeError(f'MultiViewPoseInferencer runs SelfPose3D and '
                            f'TriangulationBaseline models, not {type(model).__name__}')

    @property
    def name(self) -> str:
        return type(self.model).__name__

    @property
    def is_image_model(self) -> bool:
        """True for the image path (a 2D heatmap net): the network reads the images."""
        return self.is_learned and bool(self.model.with_heatmap_net)

    @property
    def input(self) -> str:
        """``'images'`` or ``'pseudo_2d'`` (the ``model.input`` of ``poses3d.json``)."""
        return 'images' if self.is_image_model else 'pseudo_2d'

    @property
    def num_joints(self) -> Optional[int]:
        """The joints the model predicts (None: those of the 2D poses it reads)."""
        return int(self.model.num_joints) if self.is_learned else None

    @property
    def root_index(self) -> int:
        """The root joint (the ``root`` of a person in ``poses3d.json`` for methods without
        proposal centres)."""
        if self.is_learned:
            return int(self.model.root_index)
        return int(resolve_triangulation_knobs(dict(self.model.knobs))['root_index'])

    @property
    def input_size(self) -> Tuple[int, int]:
        if self.is_learned:
            return tuple(self.model.input_size)
        size = (self.cfg or {}).get('input_size') if hasattr(self.cfg, 'get') else None
        return tuple(int(v) for v in (size or METHOD_ALIASES['triangulation']['input_size']))

    @property
    def search_cube(self) -> Optional[Space]:
        """The space a learned model searches (its root cube); None for triangulation
        and for a model that searches each frame's own capture space
        (``root_head.space_from='frame'``, e.g. the generalist): like triangulation, it
        takes the space given, else the config's, else an estimate from the rig."""
        if not self.is_learned:
            return None
        head = self.model.root_head
        if getattr(head, 'space_from', 'config') == 'frame':
            return None
        return _triple(head.space_center), _triple(head.space_size)

    @property
    def configured_space(self) -> Optional[Space]:
        """The triangulation model's own space (None: each sample's)."""
        if self.is_triangulation and self.model.space_center is not None:
            return _triple(self.model.space_center), _triple(self.model.space_size)
        return None

    def default_threshold(self) -> Optional[float]:
        if not self.is_learned:
            return None
        return float(self.model.test_cfg.get('threshold', self.model.root_head.threshold))

    def check_refine(self, refine) -> Optional[dict]:
        """``refine`` (None: as configured, False: off, True: the config's knobs or the
        defaults, a dict: knobs) → the ``test_cfg['refine']`` value to set (None: none
        to set), or a clear error when the model has no refinement."""
        if refine is None or refine is False:
            return None  # False: the caller turns it off
        if not self.is_learned:
            raise ValueError(
                f'refinement (--refine, refine=...) sets model.test_cfg["refine"] of a '
                f'SelfPose3D model; this model is a {self.name}, which has none (its 3D '
                'poses are triangulated from the 2D poses already)')
        if refine is True:  # the defaults, or the knobs the config already sets
            current = self.model.test_cfg.get('refine')
            value = dict(current) if isinstance(current, dict) else {}
        else:
            value = dict(refine)
        refine_cfg(value)  # unknown or invalid knobs fail before the first frame
        return value

    def refine_setting(self) -> Optional[dict]:
        """The refinement the model runs now (``test_cfg['refine']`` validated), or None."""
        if not self.is_learned:
            return None
        return refine_cfg(self.model.test_cfg.get('refine'))

    @contextmanager
    def session(self, score_thr: Optional[float] = None, refine=None,
                space: Optional[Space] = None):
        """Set the run's options on the model and give them back afterwards.

        Learned models: ``test_cfg['refine']`` (see :meth:`check_refine`) and, when
        ``score_thr`` is given, ``test_cfg['threshold']`` (the proposals' root score) —
        unless the refinement scores the people by the 2D poses' evidence (its ``score``
        knob, ``'evidence'`` by default): the proposal threshold then stays the model's
        and the caller drops the people whose evidence is at most ``score_thr``, so the
        threshold applies to the scores the user gets. Triangulation: its space
        (``space``); the threshold is applied to its output by the caller. Yields the
        threshold the caller applies (None: the model filtered already).
        """
        refine_value = self.check_refine(refine)
        if self.is_learned:
            test_cfg = self.model.test_cfg
            saved = {k: test_cfg[k] for k in ('threshold', 'refine') if k in test_cfg}
            if refine_value is not None:
                test_cfg['refine'] = refine_value
            elif refine is False:
                test_cfg['refine'] = None
            mode = refine_score(refine_cfg(test_cfg.get('refine')))
            rescored = mode not in (None, 'network')
            if score_thr is not None and not rescored:
                test_cfg['threshold'] = float(score_thr)
            try:
                yield float(score_thr) if score_thr is not None and rescored else None
            finally:
                for k in ('threshold', 'refine'):
                    test_cfg.pop(k, None)
                test_cfg.update(saved)
            return
        saved = (self.model.space_center, self.model.space_size)
        if space is not None:
            self.model.space_center, self.model.space_size = _triple(space[0]), \
                _triple(space[1])
        try:
            yield None if score_thr is None else float(score_thr)
        finally:
            self.model.space_center, self.model.space_size = saved
