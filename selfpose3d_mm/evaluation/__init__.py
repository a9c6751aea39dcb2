"""Evaluation: metrics registered into mmpose's ``METRICS`` and their numpy cores."""
from .functional import multiview_pose_ap  # noqa: F401
from .metrics import MultiViewPoseAPMetric  # noqa: F401

__all__ = ['MultiViewPoseAPMetric', 'multiview_pose_ap']
