"""The one skeleton definition agrees with mmpose's dataset meta (names in order, limbs
and flip pairs as sets) and the root is the mid-hip."""
import pytest

from selfpose3d_mm.skeleton import (COCO17_FLIP_PAIRS, COCO17_LIMBS, COCO17_NAMES,
                                    PANOPTIC15_ANKLES, PANOPTIC15_FLIP_PAIRS, PANOPTIC15_LIMBS,
                                    PANOPTIC15_NAMES, PANOPTIC15_ROOT_INDEX, SHELF14_HIPS,
                                    SHELF14_NAMES)
from selfpose3d_mm.skeleton.metainfo import (COCO17_METAINFO, PANOPTIC15_METAINFO,
                                             load_pose_metainfo)


def _undirected(pairs):
    return {frozenset(map(int, p)) for p in pairs}


@pytest.mark.parametrize('meta, names, limbs, flips', [
    (PANOPTIC15_METAINFO, PANOPTIC15_NAMES, PANOPTIC15_LIMBS, PANOPTIC15_FLIP_PAIRS),
    (COCO17_METAINFO, COCO17_NAMES, COCO17_LIMBS, COCO17_FLIP_PAIRS),
])
def test_definitions_agree_with_mmpose_meta(meta, names, limbs, flips):
    info = load_pose_metainfo(meta)
    assert info['num_keypoints'] == len(names)
    assert tuple(info['keypoint_id2name'][i] for i in range(len(names))) == names
    assert len(limbs) == len(info['skeleton_links'])  # no duplicate, none missing
    assert _undirected(limbs) == _undirected(info['skeleton_links'])
    assert len(set(flips)) == len(flips)  # mmpose lists each pair in both directions
    assert _undirected(flips) == _undirected(info['flip_pairs'])
    for left, right in flips:  # (left, right), in that order
        assert names[left].startswith('left_') and names[right].startswith('right_')
        assert names[left][5:] == names[right][6:]


def test_roots_and_named_joints():
    assert PANOPTIC15_ROOT_INDEX == 2 and PANOPTIC15_NAMES[PANOPTIC15_ROOT_INDEX] == 'mid_hip'
    assert [PANOPTIC15_NAMES[i] for i in PANOPTIC15_ANKLES] == ['left_ankle', 'right_ankle']
    assert [SHELF14_NAMES[i] for i in SHELF14_HIPS] == ['left_hip', 'right_hip']
    # every Panoptic-15 limb joins joints of the skeleton; the tree spans all 15 joints
    joints = {j for limb in PANOPTIC15_LIMBS for j in limb}
    assert joints == set(range(len(PANOPTIC15_NAMES)))
    assert len(PANOPTIC15_LIMBS) == len(PANOPTIC15_NAMES) - 1
