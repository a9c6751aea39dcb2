"""selfpose3d_mm: SelfPose3d (CVPR 2024) for mmengine / mmpose 1.x.

Importing the package registers its components into mmpose's registries (use
``default_scope='mmpose'``), so an OpenMMLab config only needs::

    custom_imports = dict(imports=['selfpose3d_mm'], allow_failed_imports=False)
"""
import os as _os

# mmengine's checkpoints hold numpy objects and HistoryBuffers, which torch >= 2.6 refuses
# under its default ``weights_only=True``. Checkpoints here are the user's own training
# outputs, so restore the full unpickler (users can still opt out by setting it to 0).
_os.environ.setdefault('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')

from . import (datasets, engine, evaluation, geometry, io, models,  # noqa: E402,F401
               skeleton, structures, visualization)
from .version import __version__  # noqa: E402

__all__ = [
    'datasets', 'engine', 'evaluation', 'geometry', 'io', 'models', 'skeleton', 'structures',
    'visualization', '__version__'
]
