"""The joint mappings, on hand-built skeletons."""
import numpy as np
import pytest

from selfpose3d_mm.skeleton import (COCO17_NAMES, PANOPTIC15_NAMES, SHELF14_NAMES,
                                    coco17_to_panoptic15, coco17_to_shelf14,
                                    panoptic15_to_shelf14, shelf14_root)


def _coco():
    # joint i at (i, 10 i, 100 i) with score i / 100: each output is traceable to its input
    i = np.arange(17, dtype=np.float64)
    return np.stack([i, 10 * i, 100 * i, i / 100], -1)


def test_coco_to_panoptic_by_name_and_derived_joints():
    kp, vis = coco17_to_panoptic15(_coco())
    assert kp.shape == (15, 4) and vis.all()
    for j, name in enumerate(PANOPTIC15_NAMES):
        if name in COCO17_NAMES:
            np.testing.assert_array_equal(kp[j], _coco()[COCO17_NAMES.index(name)])
    np.testing.assert_allclose(kp[0], (_coco()[5] + _coco()[6]) / 2)   # neck
    np.testing.assert_allclose(kp[2], (_coco()[11] + _coco()[12]) / 2)  # mid-hip


def test_coco_to_panoptic_one_sided_and_missing():
    valid = np.ones(17, bool)
    valid[6] = False           # right shoulder missing: neck = left shoulder
    valid[[11, 12]] = False    # both hips missing: no mid-hip
    kp, vis = coco17_to_panoptic15(_coco(), valid)
    np.testing.assert_array_equal(kp[0], _coco()[5])
    assert vis[0] and not vis[2] and not vis[6] and not vis[12]
    assert (kp[2] == 0).all() and not vis[9]


def test_coco_to_panoptic_batched_and_checked():
    batch = np.broadcast_to(_coco(), (2, 3, 17, 4))
    kp, vis = coco17_to_panoptic15(batch)
    assert kp.shape == (2, 3, 15, 4) and vis.shape == (2, 3, 15)
    with pytest.raises(ValueError, match='17'):
        coco17_to_panoptic15(np.zeros((15, 3)))


def test_panoptic_to_shelf_body_joints_and_head():
    pan = np.zeros((15, 3))
    pan[PANOPTIC15_NAMES.index('left_shoulder')] = (-200, 0, 1500)
    pan[PANOPTIC15_NAMES.index('right_shoulder')] = (200, 0, 1500)
    pan[PANOPTIC15_NAMES.index('nose')] = (0, 100, 1700)
    for j, name in enumerate(PANOPTIC15_NAMES):
        if name not in ('left_shoulder', 'right_shoulder', 'nose'):
            pan[j] = (j, 2 * j, 3 * j)
    shelf = panoptic15_to_shelf14(pan)
    assert shelf.shape == (14, 3)
    for j, name in enumerate(SHELF14_NAMES[:12]):
        np.testing.assert_array_equal(shelf[j], pan[PANOPTIC15_NAMES.index(name)])
    # shoulder-mid (0, 0, 1500), nose - shoulder-mid = (0, 100, 200); the ear centre is the
    # nose: campus bottom = (0, 50, 1600), top = bottom + 2 (nose - bottom) = (0, 150, 1800)
    campus = panoptic15_to_shelf14(pan, 'campus')
    np.testing.assert_allclose(campus[12], (0, 50, 1600))
    np.testing.assert_allclose(campus[13], (0, 150, 1800))
    # shelf: bottom = 0.75 (0, 50, 1600) + 0.25 (0, 50, 1600); top = 0.75 (0, 75, 1800)
    # + 0.25 (0, 150, 1800)
    np.testing.assert_allclose(shelf[12], (0, 50, 1600))
    np.testing.assert_allclose(shelf[13], (0, 93.75, 1800))
    np.testing.assert_allclose(shelf14_root(shelf), (pan[6] + pan[12]) / 2)


def test_coco_to_shelf_uses_the_ears():
    coco = np.zeros((17, 3))
    coco[5], coco[6] = (-200, 0, 1500), (200, 0, 1500)
    coco[3], coco[4] = (-80, 0, 1660), (80, 0, 1660)   # ear centre (0, 0, 1660)
    coco[0] = (0, 100, 1650)
    campus = coco17_to_shelf14(coco, 'campus')
    np.testing.assert_allclose(campus[12], (0, 0, 1580))
    np.testing.assert_allclose(campus[13], (0, 0, 1740))  # 1580 + 2 * 80
    with pytest.raises(ValueError, match='variant'):
        coco17_to_shelf14(coco, 'nope')
