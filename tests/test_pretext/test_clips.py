"""Shared frame access of the pretexts (selfpose3d_mm/datasets/pretext/clips.py,
people.py): frames by (sequence, time), images from arrays and from image folders, the
median background and the foreground, person boxes and crops, the same person in two
views."""
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from selfpose3d_mm.datasets.pretext.clips import (FrameIndex, MultiViewClips,
                                                  foreground_mask, median_background)
from selfpose3d_mm.datasets.pretext.people import (boxes_from_keypoints, boxes_from_mask,
                                                   crop_affine, crop_square, square_box)
from selfpose3d_mm.datasets.synthetic import SyntheticMultiViewDataset
from selfpose3d_mm.datasets.synthetic.render import render_background
from tests.rig_files import write_rig

SPACE = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))


def _world(**kw):
    cfg = dict(num_samples=12, frames_per_sequence=6, frame_interval=6, num_people=(1, 3),
               outside_prob=0.0, rig=dict(type='ring', num_views=3, image_size=(320, 180)),
               with_images=True, **SPACE)
    cfg.update(kw)
    return SyntheticMultiViewDataset(**cfg)


def test_frames_are_indexed_by_sequence_and_source_time():
    index = FrameIndex(_world(with_images=False))
    assert sorted(index.sequences) == ['0', '1']
    times, ids = index.sequences['1']
    assert times.tolist() == [0, 6, 12, 18, 24, 30] and ids.tolist() == list(range(6, 12))
    assert index.keys[8] == ('1', 12) and index.lookup('1', 12) == 8
    assert index.lookup('1', 13) is None and index.lookup('nope', 0) is None
    assert index.frame_step('0') == 6  # the dataset's interval, in source frames
    partners = index.partners(8, d_min=4, d_max=13)  # 4 < |t - 12| < 13: t in 0, 6, 18, 24
    assert sorted(index.keys[int(i)][1] for i in partners) == [0, 6, 18, 24]
    assert all(index.keys[int(i)][0] == '1' for i in partners)
    assert len(index.spread('0', 3)) == 3 and index.spread('0', 3)[-1] == 5


def test_median_background_and_foreground_of_a_moving_square():
    rng = np.random.default_rng(0)
    bg = rng.integers(60, 200, (40, 60, 3), dtype=np.uint8)
    frames = []
    for k in range(7):  # a square walking across a textured static background
        im = bg.copy()
        im[10:22, 5 + 7 * k:17 + 7 * k] = (250, 20, 20)
        frames.append(im)
    med, spread = median_background(frames)
    assert np.array_equal(med, bg) and spread.max() == 0
    mask = foreground_mask(frames[3], med, threshold=25.0, open_px=0, close_px=0)
    truth = np.zeros(mask.shape, bool)
    truth[10:22, 26:38] = True
    assert np.array_equal(mask, truth)
    cleaned = foreground_mask(frames[3], med)  # opening + closing: corners rounded
    assert (cleaned & truth).sum() / (cleaned | truth).sum() > 0.95
    box = boxes_from_mask(mask, min_area=0.01, dilate=0)
    assert box.tolist() == [[26.0, 10.0, 38.0, 22.0]]


def test_boxes_and_crops():
    kp = np.array([[[10, 20], [30, 60], [20, 40], [np.nan, np.nan]],
                   [[0, 0], [1, 1], [2, 2], [3, 3]]], np.float32)
    scores = np.array([[0.9, 0.9, 0.9, 0.9], [0.9, 0.05, 0.05, 0.05]])
    boxes, keep = boxes_from_keypoints(kp, scores, min_score=0.1, min_joints=3)
    assert keep.tolist() == [0] and boxes.tolist() == [[10, 20, 30, 60]]
    cx, cy, side = square_box(boxes[0], padding=0.5)
    assert (cx, cy, side) == (20.0, 40.0, 60.0)
    img = np.zeros((100, 100, 3), np.uint8)
    img[38:43, 18:23] = 255  # a white dot at the box centre
    crop = crop_square(img, (cx, cy), side, 30)
    ys, xs = np.nonzero(crop[..., 0] > 100)
    assert abs(ys.mean() - 14.5) < 1 and abs(xs.mean() - 14.5) < 1
    assert np.array_equal(crop_square(img, (cx, cy), side, 30, flip=True), crop[:, ::-1])
    outside = crop_square(img, (0, 0), 40, 20, border_value=7)
    assert (outside[:5, :5] == 7).all()  # beyond the image: the border value
    A = crop_affine((cx, cy), side, 30)
    assert np.allclose(A @ [cx, cy, 1], [14.5, 14.5], atol=0.5)


def test_people_matched_across_views_are_the_same_person():
    world = _world(num_samples=6, frames_per_sequence=6, num_people=(2, 3),
                   rig=dict(type='ring', num_views=4, image_size=(320, 180)))
    clips = MultiViewClips(world, background_frames=6)
    hits = total = 0
    for i in (0, 3, 5):
        frame = clips.frame(i)
        source = world.get_data_info(i)['pseudo_source']  # GT identity of each detection
        for a in range(4):
            for b in range(a + 1, 4):
                for p, q in clips.matches(frame, a, b):
                    total += 1
                    hits += int(source[a][p] == source[b][q])
    assert total >= 10 and hits == total


def test_crops_from_the_foreground_without_pseudo_poses(tmp_path):
    """A custom rig of image folders and no pseudo labels: the frames come from the
    files, the people from the foreground of the median background."""
    init_default_scope('mmpose')
    studio = write_rig(tmp_path, frames=8, people=1)
    clips = MultiViewClips(dict(type='CustomRigDataset', calibration=studio['rig'],
                                images=studio['folders'], **SPACE), background_frames=8)
    assert len(clips) == 8 and clips.num_views == 3
    frame = clips.frame(4)
    assert np.array_equal(frame.images[1], studio['images'][4][1])
    truth = render_background(0, 1, frame.images[1].shape[1::-1])
    bg, _ = clips.background(frame.sequence)
    assert np.abs(bg[1].astype(int) - truth).mean() < 3  # the person moved away
    people = clips.people(frame, 1)
    assert people['source'] == 'foreground' and len(people['boxes']) >= 1
    person = np.abs(frame.images[1].astype(int) - truth).max(-1) > 40
    ys, xs = np.nonzero(person)
    x0, y0, x1, y1 = people['boxes'][0]
    assert x0 <= np.median(xs) <= x1 and y0 <= np.median(ys) <= y1
    img, mask = clips.crop(frame, 1, people['boxes'][0], 48)
    assert img.shape == (48, 48, 3) and mask.shape == (48, 48) and 0.02 < mask.mean() < 0.9


def test_frames_without_images_are_refused():
    clips = MultiViewClips(_world(with_images=False))
    with pytest.raises(ValueError, match='with_images=True'):
        clips.frame(0)
