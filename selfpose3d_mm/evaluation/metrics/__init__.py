from .panoptic_metric import MultiViewPoseAPMetric
from .pcp_metric import PCPMetric
from .pretext_accuracy import PretextAccuracy
from .retrieval import CrossViewRetrievalMetric

__all__ = ['MultiViewPoseAPMetric', 'PCPMetric', 'PretextAccuracy', 'CrossViewRetrievalMetric']
