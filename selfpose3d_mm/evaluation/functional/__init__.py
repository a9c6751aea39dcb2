from .data_samples import as_poses, get_field
from .multiview_ap import (collect_records, frame_pose_errors, greedy_match,
                           multiview_pose_ap, voc_average_precision)
from .pcp import pcp_part_endpoints, pcp_parts, pcp_summary

__all__ = ['as_poses', 'get_field', 'collect_records', 'frame_pose_errors', 'greedy_match',
           'multiview_pose_ap', 'voc_average_precision', 'pcp_part_endpoints',
           'pcp_parts', 'pcp_summary']
