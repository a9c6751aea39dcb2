from .panoptic_metric import MultiViewPoseAPMetric
from .pcp_metric import PCPMetric

__all__ = ['MultiViewPoseAPMetric', 'PCPMetric']
