from .data_samples import as_poses, get_field
from .heatmap_pck import heatmap_pck
from .multiview_ap import (collect_records, frame_pose_errors, greedy_match,
                           multiview_pose_ap, voc_average_precision)
from .pcp import pcp_part_endpoints, pcp_parts, pcp_summary
from .retrieval import (cross_view_retrieval, nearest_moments, pa_mpjpe, pa_mpjpe_matrix,
                        procrustes_align)

__all__ = ['as_poses', 'get_field', 'collect_records', 'frame_pose_errors', 'greedy_match',
           'multiview_pose_ap', 'voc_average_precision', 'pcp_part_endpoints',
           'pcp_parts', 'pcp_summary', 'cross_view_retrieval', 'nearest_moments', 'pa_mpjpe',
           'pa_mpjpe_matrix', 'procrustes_align', 'heatmap_pck']
