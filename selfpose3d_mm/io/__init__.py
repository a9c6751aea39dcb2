"""Every file format the package reads or writes, one module per format:

=========================  ==================================================================
module                     files
=========================  ==================================================================
``calibration/``           camera rigs: the rig file, Panoptic, Shelf/Campus, OpenCV YAML,
                           generic K + [R|t] JSON, EasyMocap, Pose2Sim/anipose TOML, Qualisys
``keypoints2d/``           OpenPose / MMPose 2D detections -> pseudo-label file
                           (``tools/import_2d.py``)
``pseudo_labels``          2D pseudo labels per frame and view (``tools/pseudo_label.py``)
``poses3d``                3D ground truth of a custom rig
``predictions``            the inferencer's ``poses3d.json`` / ``poses3d.npz`` (+ track ids)
``exports``                tracked poses for other tools: ``.trc``, ``.c3d``, CSV
``panoptic_bodies``        CMU Panoptic ``body3DScene_*.json`` (3D GT)
``shelf_campus``           Shelf / Campus ``actorsGT.mat``, detection and pose-bank pickles
``json_yaml``              the JSON / YAML text under them: UTF-8 only, syntax and depth
                           errors with the path, repeated keys recorded
=========================  ==================================================================

Readers validate what they read and fail with errors naming the file and the field; writers
are atomic (a temporary file, then a rename). Depends on :mod:`selfpose3d_mm.geometry`
(the camera type), :mod:`selfpose3d_mm.skeleton` and :mod:`selfpose3d_mm.utils` only.
"""
from . import calibration
from .calibration import *  # noqa: F401,F403  (the names of calibration.__all__)
from .panoptic_bodies import PANOPTIC_VISIBLE_THR, load_panoptic_bodies
from .poses3d import POSES3D_FORMAT, load_poses3d
from .predictions import (PREDICTIONS_FORMAT, frames_to_arrays, load_predictions,
                          save_predictions_json, save_predictions_npz)
from .pseudo_labels import (MAX_KEYPOINT_SCORE, MAX_PERSONS_PER_VIEW, PSEUDO_LABEL_FORMAT,
                            PSEUDO_LABEL_VERSION, SCORE_TOLERANCE, SKELETON_JOINTS,
                            PseudoLabelError, PseudoLabelFileNotFoundError, PseudoLabels,
                            load_pseudo_labels, save_pseudo_labels)
from .shelf_campus import (ShelfCampusFileError, detections_to_panoptic15, load_actors_gt,
                           load_detections, load_pose_bank, load_predicted_poses)

__all__ = list(calibration.__all__) + [
    # poses
    'PANOPTIC_VISIBLE_THR', 'load_panoptic_bodies', 'POSES3D_FORMAT', 'load_poses3d',
    'PREDICTIONS_FORMAT', 'frames_to_arrays', 'load_predictions', 'save_predictions_json',
    'save_predictions_npz',
    # pseudo labels
    'PSEUDO_LABEL_FORMAT', 'PSEUDO_LABEL_VERSION', 'SKELETON_JOINTS', 'MAX_PERSONS_PER_VIEW',
    'MAX_KEYPOINT_SCORE', 'SCORE_TOLERANCE', 'PseudoLabelError',
    'PseudoLabelFileNotFoundError', 'PseudoLabels', 'load_pseudo_labels',
    'save_pseudo_labels',
    # Shelf / Campus
    'ShelfCampusFileError', 'detections_to_panoptic15', 'load_actors_gt', 'load_detections',
    'load_pose_bank', 'load_predicted_poses'
]
