"""2D detections of other tools → the pseudo-label file (``tools/import_2d.py``;
``docs/formats_2d.md``).

===============  ===========================================================================
module           what
===============  ===========================================================================
``openpose``     OpenPose ``--write_json`` files (BODY_25, COCO-18, ...)
``mmpose``       MMPose inferencer predictions (per-image files, a video's file)
``matching``     frame numbers of the file names, offsets table, the rig's frames
``importer``     every camera's files → :class:`~selfpose3d_mm.io.pseudo_labels.PseudoLabels`
                 in COCO-17 (:mod:`selfpose3d_mm.skeleton.keypoint_sets`), and a summary
``common``       the error type, the parsed frame, numeric checks
===============  ===========================================================================
"""
from .common import Frame2D, Keypoints2DError, frame_numbers
from .importer import BOX_SCORES, FORMATS_2D, FRAME_KEY, format_summary, import_2d
from .matching import MATCH_MODES, parse_offsets, read_offsets_file, rig_frames
from .mmpose import read_mmpose_json
from .openpose import read_openpose_json

__all__ = ['Keypoints2DError', 'Frame2D', 'frame_numbers', 'FORMATS_2D', 'BOX_SCORES',
           'FRAME_KEY', 'import_2d', 'format_summary', 'MATCH_MODES', 'parse_offsets',
           'read_offsets_file', 'rig_frames', 'read_mmpose_json', 'read_openpose_json']
