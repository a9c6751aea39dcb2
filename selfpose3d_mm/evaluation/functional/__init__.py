from .multiview_ap import (collect_records, frame_pose_errors, greedy_match,
                           multiview_pose_ap, voc_average_precision)
from .pcp import pcp_part_endpoints, pcp_parts, pcp_summary

__all__ = ['collect_records', 'frame_pose_errors', 'greedy_match',
           'multiview_pose_ap', 'voc_average_precision', 'pcp_part_endpoints',
           'pcp_parts', 'pcp_summary']
