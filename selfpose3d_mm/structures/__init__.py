from .multiview_batch import GroundTruth3D, MultiViewBatch, PseudoPoses
from .multiview_data_sample import PSEUDO_FIELDS, MultiViewPoseDataSample

__all__ = ['MultiViewPoseDataSample', 'PSEUDO_FIELDS', 'MultiViewBatch', 'PseudoPoses',
           'GroundTruth3D']
