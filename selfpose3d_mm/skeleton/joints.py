"""The skeletons the package meets: joint names (in order), the root, limbs, flip pairs.

==============  ===========================================================================
skeleton        joint order
==============  ===========================================================================
Panoptic-15     neck, nose, mid-hip, l-sho, l-elb, l-wri, l-hip, l-knee, l-ank, r-sho,
                r-elb, r-wri, r-hip, r-knee, r-ank: the first 15 joints of mmpose's
                ``panoptic_body3d`` meta (eyes and ears dropped); the model's skeleton.
                Root: the mid-hip (joint 2, Panoptic's "BodyCenter").
COCO-17         nose, l-eye, r-eye, l-ear, r-ear, l-sho, r-sho, l-elb, r-elb, l-wri, r-wri,
                l-hip, r-hip, l-knee, r-knee, l-ank, r-ank: mmpose's ``coco`` meta (the
                MMDet/MMPose 2D models, Shelf/Campus detections, the Panoptic pose bank)
Shelf-14        r-ank, r-knee, r-hip, l-hip, l-knee, l-ank, r-wri, r-elb, r-sho, l-sho,
                l-elb, l-wri, bottom-head, top-head (Shelf/Campus ``actorsGT.mat``; mmpose
                has no meta for it)
==============  ===========================================================================

The names, limbs and flip pairs mirror mmpose's dataset meta files
(``configs/_base_/datasets/panoptic_body3d.py`` and ``coco.py``, read by
:func:`selfpose3d_mm.skeleton.metainfo.load_pose_metainfo`); ``tests/test_skeleton``
asserts that they agree. The *order* of ``PANOPTIC15_LIMBS`` is this package's own: the
per-limb tables (synthetic bone lengths and capsule radii, the triangulation's bone
ranges) are indexed by it.

Plain tuples, no dependency: every layer (geometry included) may import this module.
"""

__all__ = [
    'PANOPTIC15_NAMES', 'PANOPTIC15_ROOT_INDEX', 'PANOPTIC15_LIMBS', 'PANOPTIC15_FLIP_PAIRS',
    'PANOPTIC15_ANKLES', 'COCO17_NAMES', 'COCO17_LIMBS', 'COCO17_FLIP_PAIRS',
    'SHELF14_NAMES', 'SHELF14_HIPS', 'flip_pairs_of', 'side_pair'
]


def _pairs(names, pairs_by_name):
    return tuple((names.index(a), names.index(b)) for a, b in pairs_by_name)


def side_pair(names, part: str) -> tuple:
    """(left, right) indices of ``left_<part>`` / ``right_<part>`` in ``names``."""
    return names.index('left_' + part), names.index('right_' + part)


def flip_pairs_of(names) -> tuple:
    """(left, right) index pairs of the joints named ``left_*`` / ``right_*``."""
    return tuple((i, names.index('right_' + n[5:])) for i, n in enumerate(names)
                 if n.startswith('left_') and 'right_' + n[5:] in names)


# ----------------------------------------------------------------------------- Panoptic-15
PANOPTIC15_NAMES = ('neck', 'nose', 'mid_hip', 'left_shoulder', 'left_elbow', 'left_wrist',
                    'left_hip', 'left_knee', 'left_ankle', 'right_shoulder', 'right_elbow',
                    'right_wrist', 'right_hip', 'right_knee', 'right_ankle')
PANOPTIC15_ROOT_INDEX = PANOPTIC15_NAMES.index('mid_hip')  # 2
# head, torso, shoulders and arms (left, right), pelvis, legs (left, right)
PANOPTIC15_LIMBS = _pairs(PANOPTIC15_NAMES, (
    ('neck', 'nose'), ('neck', 'mid_hip'),
    ('neck', 'left_shoulder'), ('left_shoulder', 'left_elbow'), ('left_elbow', 'left_wrist'),
    ('neck', 'right_shoulder'), ('right_shoulder', 'right_elbow'),
    ('right_elbow', 'right_wrist'),
    ('mid_hip', 'left_hip'), ('mid_hip', 'right_hip'),
    ('left_hip', 'left_knee'), ('left_knee', 'left_ankle'),
    ('right_hip', 'right_knee'), ('right_knee', 'right_ankle')))
PANOPTIC15_FLIP_PAIRS = flip_pairs_of(PANOPTIC15_NAMES)  # (3, 9) ... (8, 14)
PANOPTIC15_ANKLES = side_pair(PANOPTIC15_NAMES, 'ankle')  # (8, 14)

# ----------------------------------------------------------------------------- COCO-17
COCO17_NAMES = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
                'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
                'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle',
                'right_ankle')
COCO17_LIMBS = _pairs(COCO17_NAMES, (
    ('left_ankle', 'left_knee'), ('left_knee', 'left_hip'), ('right_ankle', 'right_knee'),
    ('right_knee', 'right_hip'), ('left_hip', 'right_hip'), ('left_shoulder', 'left_hip'),
    ('right_shoulder', 'right_hip'), ('left_shoulder', 'right_shoulder'),
    ('left_shoulder', 'left_elbow'), ('right_shoulder', 'right_elbow'),
    ('left_elbow', 'left_wrist'), ('right_elbow', 'right_wrist'), ('left_eye', 'right_eye'),
    ('nose', 'left_eye'), ('nose', 'right_eye'), ('left_eye', 'left_ear'),
    ('right_eye', 'right_ear'), ('left_ear', 'left_shoulder'),
    ('right_ear', 'right_shoulder')))
COCO17_FLIP_PAIRS = flip_pairs_of(COCO17_NAMES)  # (1, 2) ... (15, 16)

# ----------------------------------------------------------------------------- Shelf-14
SHELF14_NAMES = ('right_ankle', 'right_knee', 'right_hip', 'left_hip', 'left_knee',
                 'left_ankle', 'right_wrist', 'right_elbow', 'right_shoulder',
                 'left_shoulder', 'left_elbow', 'left_wrist', 'bottom_head', 'top_head')
SHELF14_HIPS = side_pair(SHELF14_NAMES, 'hip')  # (3, 2)
