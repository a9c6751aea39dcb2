"""The one definition of the skeletons: joint names, root, limbs, flip pairs
(:mod:`.joints`) and the joint mappings between them (:mod:`.mappings`).

mmpose's dataset meta of these skeletons (``dataset_meta``) is loaded by
:func:`selfpose3d_mm.skeleton.metainfo.load_pose_metainfo` (a separate import: it needs
mmengine and mmpose, this package itself nothing but numpy).
"""
from .joints import (COCO17_FLIP_PAIRS, COCO17_LIMBS, COCO17_NAMES, PANOPTIC15_ANKLES,
                     PANOPTIC15_FLIP_PAIRS, PANOPTIC15_LIMBS, PANOPTIC15_NAMES,
                     PANOPTIC15_ROOT_INDEX, SHELF14_HIPS, SHELF14_NAMES, flip_pairs_of,
                     side_pair)
from .mappings import (COCO17_TO_PANOPTIC15, PANOPTIC15_TO_SHELF14, coco17_to_panoptic15,
                       coco17_to_shelf14, panoptic15_to_shelf14, shelf14_root)

__all__ = [
    'PANOPTIC15_NAMES', 'PANOPTIC15_ROOT_INDEX', 'PANOPTIC15_LIMBS', 'PANOPTIC15_FLIP_PAIRS',
    'PANOPTIC15_ANKLES', 'COCO17_NAMES', 'COCO17_LIMBS', 'COCO17_FLIP_PAIRS',
    'SHELF14_NAMES', 'SHELF14_HIPS', 'flip_pairs_of', 'side_pair', 'COCO17_TO_PANOPTIC15',
    'PANOPTIC15_TO_SHELF14', 'coco17_to_panoptic15', 'coco17_to_shelf14',
    'panoptic15_to_shelf14', 'shelf14_root'
]
