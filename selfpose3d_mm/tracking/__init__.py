"""Person identities over time for the 3D poses of a sequence (post-processing of the
inferencer's ``poses3d.json`` / ``.npz``; ``tools/export_poses.py``):

=================  =====================================================================
module             what
=================  =====================================================================
``tracker``        :class:`PoseTracker`: constant-velocity prediction, Hungarian
                   assignment on a gated root + per-joint cost, births and deaths
``tracks``         the track structure ``{id: (frames, poses, valid)}``
``smoothing``      One-Euro and Savitzky-Golay smoothing of tracks
``metrics``        CLEAR-MOT style counts (ID switches, FP, FN, MOTA) against known ids
=================  =====================================================================

numpy / SciPy only; depends on no other part of the package.
"""
from .metrics import mot_counts
from .smoothing import SMOOTHING_METHODS, OneEuroFilter, smooth_tracks
from .tracker import PoseTracker, pose_track_costs
from .tracks import Tracks, collect_tracks, track_lookup

__all__ = ['PoseTracker', 'pose_track_costs', 'Tracks', 'collect_tracks', 'track_lookup',
           'OneEuroFilter', 'SMOOTHING_METHODS', 'smooth_tracks', 'mot_counts']
