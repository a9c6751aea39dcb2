from .checkpoint import (AtomicCheckpointHook, RandomStateHook, find_resume_checkpoint,
                         is_complete_checkpoint)
from .hooks import *  # noqa: F401,F403
from .optim_wrappers import *  # noqa: F401,F403

__all__ = ['AtomicCheckpointHook', 'RandomStateHook', 'find_resume_checkpoint',
           'is_complete_checkpoint']
