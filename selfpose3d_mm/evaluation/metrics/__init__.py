from .panoptic_metric import MultiViewPoseAPMetric

__all__ = ['MultiViewPoseAPMetric']
