from .multiview_ap import (collect_records, frame_pose_errors, greedy_match,
                           multiview_pose_ap, voc_average_precision)

__all__ = ['collect_records', 'frame_pose_errors', 'greedy_match',
           'multiview_pose_ap', 'voc_average_precision']
