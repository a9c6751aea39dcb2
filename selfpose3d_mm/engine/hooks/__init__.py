from .logger import MainProcessLoggerHook
from .non_finite_guard import NonFiniteGuardHook
from .stage_hook import TrainingStageHook

__all__ = ['TrainingStageHook', 'NonFiniteGuardHook', 'MainProcessLoggerHook']
