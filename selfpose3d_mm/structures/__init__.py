from .multiview_data_sample import MultiViewPoseDataSample, pad_pseudo_poses

__all__ = ['MultiViewPoseDataSample', 'pad_pseudo_poses']
