"""selfpose3d_mm: SelfPose3d (CVPR 2024) for mmengine / mmpose 1.x.

Importing the package registers its components into mmpose's registries (use
``default_scope='mmpose'``), so an OpenMMLab config only needs::

    custom_imports = dict(imports=['selfpose3d_mm'], allow_failed_imports=False)

It also admits, by name, the few non-tensor types mmengine writes into checkpoints in
torch's weights-only unpickler (:mod:`selfpose3d_mm.utils.safe_load`): checkpoints load
with ``weights_only=True`` and never run code.
"""
from .utils.safe_load import register_checkpoint_safe_globals

register_checkpoint_safe_globals()

from . import (datasets, engine, evaluation, geometry, io, models,  # noqa: E402,F401
               skeleton, structures, visualization)
from .version import __version__  # noqa: E402

__all__ = [
    'datasets', 'engine', 'evaluation', 'geometry', 'io', 'models', 'skeleton', 'structures',
    'visualization', '__version__'
]
