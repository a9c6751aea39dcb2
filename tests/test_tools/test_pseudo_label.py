"""tools/pseudo_label.py: MMDet person boxes + MMPose COCO-17 keypoints on every view of
rendered synthetic frames, written in the pseudo-label format, resumable byte for byte.

Tiny random-weight models (tests/data/pseudo_label/): a 1-class RTMDet (3 boxes per
image, threshold 0) and a ResNet-18 SimpleBaseline; 3 frames x 3 views of 256 x 144 px.
"""
import shutil
from pathlib import Path

import numpy as np
import pytest

from selfpose3d_mm.datasets import frame_pseudo_poses
from selfpose3d_mm.io import PseudoLabelError, load_pseudo_labels
from selfpose3d_mm.skeleton import coco17_to_panoptic15
from tests.conftest import load_tool

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / 'tests' / 'data' / 'pseudo_label'
KEYS = ['train_00000_000000', 'train_00000_000006', 'train_00001_000000']


def _tool():
    return load_tool('pseudo_label')


TOOL = _tool()


def _argv(out, pose=DATA / 'pose_res18_tiny.py', batch_size=1, *extra):
    return [str(DATA / 'synthetic_tiny.py'), '--out', str(out),
            '--det-config', str(DATA / 'det_rtmdet_tiny.py'), '--det-checkpoint', 'none',
            '--pose-config', str(pose), '--pose-checkpoint', 'none',
            '--det-score-thr', '0', '--device', 'cpu', '--no-progress',
            '--batch-size', str(batch_size), *extra]


class _Kill(Exception):
    pass


def _kill_after(index):
    def on_frame(i, key):
        if i == index:
            raise _Kill(key)
    return on_frame


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """Uninterrupted runs: batch size -> the bytes of the file."""
    out = {}
    for b in (1, 2):
        path = tmp_path_factory.mktemp(f'ref{b}') / 'labels.json'
        TOOL.main(_argv(path, batch_size=b))
        out[b] = path
    return out


def test_file_has_every_frame_and_view(reference):
    path = reference[1]
    assert not Path(str(path) + '.partial.jsonl').exists()  # journal removed at the end
    labels = load_pseudo_labels(str(path))
    assert labels.skeleton == 'coco17'
    assert labels.views == ['synth_00', 'synth_01', 'synth_02']
    assert list(labels.keys()) == KEYS  # the dataset's frame order
    np.testing.assert_array_equal(labels.image_sizes, [[256, 144]] * 3)
    assert labels.models['detector'] == 'det_rtmdet_tiny'
    assert labels.models['pose'] == 'pose_res18_tiny'
    assert labels.models['detector_checkpoint'].startswith('none')
    assert labels.models['det_score_thr'] == '0.0'
    for key in KEYS:
        entries = labels.frames[key]
        assert len(entries) == 3
        for e in entries:
            P = len(e['bbox_scores'])
            assert 1 <= P <= 3  # test_cfg.max_per_img = 3, threshold 0
            assert e['bboxes'].shape == (P, 4) and e['keypoints'].shape == (P, 17, 3)
            assert np.all(np.diff(e['bbox_scores']) <= 0)  # by decreasing score
            b = e['bboxes']  # original pixels of the 256 x 144 images
            assert np.all(b[:, 2] > b[:, 0]) and np.all(b[:, 3] > b[:, 1])
            assert b.min() >= 0 and b[:, [0, 2]].max() <= 256 and b[:, [1, 3]].max() <= 144
            # top-down keypoints (score > 0) lie in the person's crop: the box enlarged
            # 1.25x to the model's 1:2 aspect, within a heatmap pixel (crop / 16)
            c, half = (b[:, :2] + b[:, 2:]) / 2, (b[:, 2:] - b[:, :2]) / 2
            reach = 1.25 * np.maximum(half, half[:, ::-1] * np.array([0.5, 2.0]))
            off = np.abs(e['keypoints'][..., :2] - c[:, None]) - reach[:, None] * 9 / 8
            assert np.all(off[e['keypoints'][..., 2] > 0] <= 0)
    # the other reference run used batches of 2 frames (6 images): the same boxes
    other = load_pseudo_labels(str(reference[2]))
    for key in KEYS:
        for a, b in zip(labels.frames[key], other.frames[key]):
            np.testing.assert_allclose(a['bboxes'], b['bboxes'], atol=1e-2)


def test_batched_models_match_mmdet_and_mmpose_apis():
    """One batch over all views = mmdet's inference_detector / mmpose's
    inference_topdown image by image (BGR input, boxes and keypoints in original px)."""
    from mmdet.apis import inference_detector
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpose.apis import inference_topdown

    from selfpose3d_mm.apis.pseudo_labeling import (PersonDetector, TopDownPose,
                                                    build_unlabelled_dataset,
                                                    load_frame_images)
    dataset, _ = build_unlabelled_dataset(Config.fromfile(DATA / 'synthetic_tiny.py'))
    images = load_frame_images(dataset.get_data_info(0))
    det = PersonDetector(str(DATA / 'det_rtmdet_tiny.py'), None, 'cpu', score_thr=0.0)
    pose = TopDownPose(str(DATA / 'pose_res18_tiny.py'), None, 'cpu')
    dets = det(images)
    kps = pose(images, [d[0] for d in dets])
    for img, (boxes, scores), kp in zip(images, dets, kps):
        with DefaultScope.overwrite_default_scope('mmdet'):
            ref = inference_detector(det.model, img).pred_instances
        np.testing.assert_allclose(boxes, ref.bboxes.numpy(), atol=1e-3)
        np.testing.assert_allclose(scores, ref.scores.numpy(), atol=1e-5)
        ref = inference_topdown(pose.model, img, boxes)
        np.testing.assert_allclose(kp[..., :2],
                                   [r.pred_instances.keypoints[0] for r in ref], atol=1e-3)
        np.testing.assert_allclose(kp[..., 2], [r.pred_instances.keypoint_scores[0]
                                                for r in ref], atol=1e-5)


@pytest.mark.parametrize('batch_size,kill_at', [(1, 1), (2, 0), (1, 2)])
def test_resume_after_kill_is_byte_identical(reference, tmp_path, batch_size, kill_at):
    out = tmp_path / 'labels.json'
    journal = Path(str(out) + '.partial.jsonl')
    with pytest.raises(_Kill):
        TOOL.main(_argv(out, batch_size=batch_size), on_frame=_kill_after(kill_at))
    assert not out.exists() and journal.exists()
    lines = journal.read_bytes().split(b'\n')
    assert len(lines) == kill_at + 3  # header + finished frames + ''
    # a kill in the middle of writing the next line leaves a torn tail
    with open(journal, 'ab') as f:
        f.write(lines[-2][:40])
    seen = []
    TOOL.main(_argv(out, batch_size=batch_size), on_frame=lambda i, k: seen.append(i))
    assert seen == list(range(kill_at + 1, 3))  # only the missing frames
    assert out.read_bytes() == reference[batch_size].read_bytes()
    assert not journal.exists()
    # a rerun of a finished file with the same settings does nothing
    res = TOOL.main(_argv(out, batch_size=batch_size))
    assert res['complete'] and out.read_bytes() == reference[batch_size].read_bytes()


def test_restart_with_other_settings_refuses(reference, tmp_path):
    other_pose = tmp_path / 'pose_other.py'
    other_pose.write_text((DATA / 'pose_res18_tiny.py').read_text().replace(
        'flip_test=True', 'flip_test=False'))
    out = tmp_path / 'labels.json'
    with pytest.raises(_Kill):
        TOOL.main(_argv(out), on_frame=_kill_after(0))
    before = Path(str(out) + '.partial.jsonl').read_bytes()
    with pytest.raises(PseudoLabelError, match=r'other settings.*pose differ'):
        TOOL.main(_argv(out, other_pose))
    with pytest.raises(PseudoLabelError, match=r'batch_size'):
        TOOL.main(_argv(out, batch_size=2))
    assert Path(str(out) + '.partial.jsonl').read_bytes() == before  # untouched
    # a finished file is not replaced by a run with other settings either ...
    done = tmp_path / 'done.json'
    shutil.copy(reference[1], done)
    with pytest.raises(PseudoLabelError, match='--overwrite'):
        TOOL.main(_argv(done, other_pose))
    # ... unless asked to
    TOOL.main(_argv(done, other_pose, 1, '--overwrite'))
    assert load_pseudo_labels(str(done)).models['pose'] == 'pose_other'


def test_corrupt_journal_line_before_the_end_is_an_error(tmp_path):
    from selfpose3d_mm.apis.pseudo_labeling import PseudoLabelJournal
    path = tmp_path / 'x.partial.jsonl'
    j = PseudoLabelJournal(str(path), dict(a=1))
    assert j.open() == {}
    for i in range(3):
        j.append(i, f'k{i}', [])
    j.close()
    lines = path.read_bytes().split(b'\n')
    lines[2] = lines[2][:5]
    path.write_bytes(b'\n'.join(lines))
    with pytest.raises(PseudoLabelError, match='line 3 is corrupt'):
        PseudoLabelJournal(str(path), dict(a=1)).open()


def test_frame_gives_panoptic15(reference):
    labels = load_pseudo_labels(str(reference[1]), num_joints=15)
    for key in KEYS:
        kps, scores, box_scores = frame_pseudo_poses(labels, key)
        assert len(kps) == 3
        for c, e in enumerate(labels.frames[key]):
            kp = e['keypoints']
            want, valid = coco17_to_panoptic15(kp, kp[..., 2] > 0)
            want = np.where(valid[..., None], want, 0)
            assert kps[c].shape == (len(kp), 15, 2)
            np.testing.assert_array_equal(kps[c], want[..., :2])
            np.testing.assert_array_equal(scores[c], want[..., 2])
            np.testing.assert_array_equal(box_scores[c], e['bbox_scores'])


def test_custom_rig_reads_the_file(reference, tmp_path):
    """The synthetic frames as a user's rig (rig file + PNG folders): the tool labels it
    with the custom-rig keys "{frame:08d}", CustomRigDataset reads the file, and the
    labels equal those of the same images labelled through the synthetic dataset."""
    import cv2
    from mmengine.config import Config

    from selfpose3d_mm.apis.pseudo_labeling import build_unlabelled_dataset
    from selfpose3d_mm.datasets import CustomRigDataset
    from selfpose3d_mm.io import save_rig
    synth, _ = build_unlabelled_dataset(Config.fromfile(DATA / 'synthetic_tiny.py'))
    save_rig(str(tmp_path / 'calibration.json'), synth.cameras)
    for f in range(3):
        info = synth.get_data_info(f)
        for name, img in zip(synth.cameras.names, info['img']):
            (tmp_path / 'images' / name).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(tmp_path / 'images' / name / f'{f:06d}.png'), img[..., ::-1])
    rig = dict(type='CustomRigDataset', data_root=str(tmp_path),
               calibration='calibration.json', pseudo_labels='pseudo_labels.json',
               images='images/{view}/{frame:06d}.png', space_center=(0.0, 0.0, 800.0),
               space_size=(6000.0, 6000.0, 2000.0), pipeline=[])
    cfg = tmp_path / 'rig.py'
    cfg.write_text(f"custom_imports = dict(imports=['selfpose3d_mm'])\n"
                   f"default_scope = 'mmpose'\ntrain_dataloader = dict(dataset={rig!r})\n")
    probe, _ = build_unlabelled_dataset(Config.fromfile(cfg))
    if 'pseudo_key' not in probe.get_data_info(0):
        pytest.skip('CustomRigDataset infos carry no `pseudo_key` yet')
    TOOL.main([str(cfg)] + _argv(tmp_path / 'pseudo_labels.json')[1:])
    rig.pop('type')
    ds = CustomRigDataset(**rig)
    assert [d['frame'] for d in ds.data_list] == [0, 1, 2]
    info = ds.get_data_info(1)
    assert [k.shape[1:] for k in info['pseudo_keypoints']] == [(15, 2)] * 3
    mine = load_pseudo_labels(str(tmp_path / 'pseudo_labels.json'))
    ref = load_pseudo_labels(str(reference[1]))
    assert list(mine.keys()) == ['00000000', '00000001', '00000002']
    for key, ref_key in zip(mine.keys(), KEYS):
        for a, b in zip(mine.frames[key], ref.frames[ref_key]):
            for name in ('bboxes', 'bbox_scores', 'keypoints'):
                np.testing.assert_array_equal(a[name], b[name])


def test_panoptic_layout(tmp_path):
    """Real HD frames (fixtures/panoptic_demo) linked into a Panoptic sequence: the tool
    reads the images of the config's dataset (its pseudo labels switched off), keys
    "{sequence}/{frame:08d}", and PanopticMultiViewDataset reads the file back."""
    from tests.test_datasets.test_panoptic import CAMS, link_demo_sequence
    frames = link_demo_sequence(tmp_path, 2)
    panoptic = dict(type='PanopticMultiViewDataset', data_root=str(tmp_path),
                    sequences=['demo'], interval=1, cache_dir=str(tmp_path / 'cache'),
                    pseudo_labels=str(tmp_path / 'labels.json'), with_images=False)
    cfg = tmp_path / 'panoptic.py'
    cfg.write_text(f"custom_imports = dict(imports=['selfpose3d_mm'])\n"
                   f"default_scope = 'mmpose'\n"
                   f"train_dataloader = dict(dataset={dict(panoptic, pipeline=[])!r})\n")
    TOOL.main([str(cfg)] + _argv(tmp_path / 'labels.json', DATA / 'pose_res18_tiny.py',
                                 2)[1:])
    labels = load_pseudo_labels(str(tmp_path / 'labels.json'))
    assert labels.views == CAMS
    assert list(labels.keys()) == [f'demo/{f:08d}' for f in frames]
    np.testing.assert_array_equal(labels.image_sizes, [[1920, 1080]] * 5)
    from mmpose.registry import DATASETS
    ds = DATASETS.build(panoptic)  # the file fits the dataset it was written for
    info = ds.get_data_info(1)
    assert [k.shape[1:] for k in info['pseudo_keypoints']] == [(15, 2)] * 5
    assert all(1 <= len(s) <= 3 for s in info['pseudo_bbox_scores'])
