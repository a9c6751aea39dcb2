from .stage_hook import TrainingStageHook

__all__ = ['TrainingStageHook']
