"""Every malformed input a user reported (issue 13) gets the package's error, whose message
starts with the file path and names the field: binary / UTF-16 / truncated / absurdly
nested files, JSON that fits no calibration format, values that overflow once converted
to mm, duplicated camera names and keys, implausible pseudo labels."""
import copy
import json
import re

import cv2
import numpy as np
import pytest
import torch

from selfpose3d_mm.geometry import MultiViewCameras
from selfpose3d_mm.io import (CalibrationError, PseudoLabelError, guess_calibration_format,
                              load_cameras, load_opencv_yaml, load_pseudo_labels, load_rig,
                              save_opencv_yaml, save_pseudo_labels)
from selfpose3d_mm.io import pseudo_labels as pl
from .test_pseudo_labels import raw_labels

R = cv2.Rodrigues(np.array([0.1, -0.2, 0.3]))[0].tolist()
K = [[1000.0, 0.0, 320.0], [0.0, 1000.0, 240.0], [0.0, 0.0, 1.0]]


def _rig_doc(**camera):
    cam = dict(name='cam_a', image_size=[640, 480], K=K, R=R, t=[0.1, 0.2, 3.0])
    cam.update(camera)
    return dict(format='selfpose3d_mm/rig', units='m', world_up='+z', cameras=[cam])


def _rig_cams():
    return MultiViewCameras(np.array([K] * 2), np.array([R] * 2),
                            np.array([[0, 0, 3000.0], [100, 0, 3000.0]]),
                            np.zeros((2, 5)), np.array([[640, 480]] * 2), names=['a', 'b'])


def _raises(exc, path, *fragments, call=None):
    """``call()`` (default ``load_cameras(path)``) raises ``exc`` whose message starts
    with the path and contains every fragment."""
    with pytest.raises(exc) as info:
        (call or (lambda: load_cameras(str(path))))()
    msg = str(info.value)
    assert msg.startswith(str(path)), msg
    for f in fragments:
        assert re.search(f, msg), (f, msg)
    return msg


# ------------------------------------------------------------------ calibration files
@pytest.mark.parametrize('fmt', [None, 'rig', 'panoptic', 'shelf_campus'])
def test_binary_json_calibration(tmp_path, fmt):
    path = tmp_path / 'calib.json'
    path.write_bytes(bytes(range(256)) * 4)
    kwargs = dict(image_size=(640, 480)) if fmt == 'shelf_campus' else {}
    _raises(CalibrationError, path, 'binary',
            call=lambda: load_cameras(str(path), fmt, **kwargs))


@pytest.mark.parametrize('fmt', [None, 'rig', 'panoptic'])
def test_utf16_json_calibration(tmp_path, fmt):
    path = tmp_path / 'calib.json'
    path.write_bytes(json.dumps(_rig_doc()).encode('utf-16'))  # with its byte-order mark
    _raises(CalibrationError, path, 'UTF-16', call=lambda: load_cameras(str(path), fmt))
    path.write_bytes(json.dumps(_rig_doc()).encode('utf-16-le'))  # without
    _raises(CalibrationError, path, 'NUL bytes', call=lambda: load_cameras(str(path), fmt))


def test_latin1_json_calibration(tmp_path):
    path = tmp_path / 'calib.json'
    path.write_bytes(json.dumps(_rig_doc(name='caméra'), ensure_ascii=False).encode('latin-1'))
    _raises(CalibrationError, path, 'not UTF-8')


@pytest.mark.parametrize('fmt', [None, 'opencv'])
def test_binary_opencv_yaml(tmp_path, fmt):
    path = tmp_path / 'cams.yml'
    path.write_bytes(b'%YAML:1.0\n---\n' + bytes(range(256)) * 4)
    _raises(CalibrationError, path, 'binary|not UTF-8',
            call=lambda: load_cameras(str(path), fmt))


def test_truncated_opencv_yaml(tmp_path):
    """Cut anywhere, an OpenCV YAML file gives a CalibrationError (OpenCV's parse error,
    or the field the cut removed), never cv2's SystemError."""
    full = tmp_path / 'full.yml'
    save_opencv_yaml(_rig_cams(), str(full))
    text = full.read_text()
    path = tmp_path / 'cams.yml'
    messages, loaded = set(), 0
    for cut in range(20, len(text) - 30, 7):
        path.write_text(text[:cut])
        try:  # a cut between two cameras or inside a number leaves a valid file
            load_cameras(str(path))
            loaded += 1
        except CalibrationError as e:
            assert str(e).startswith(str(path)), e
            messages.add(str(e).split(':')[1].strip()[:25])
    assert len(messages) > 3 and loaded < len(text) // 70  # parse errors, missing fields


def test_opencv_yaml_with_a_malformed_matrix(tmp_path):
    path = tmp_path / 'cams.yml'
    save_opencv_yaml(_rig_cams(), str(path))
    text = path.read_text()
    path.write_text(text.replace('rows: 3', 'rows: 4', 1))  # 9 values for 4 x 3
    _raises(CalibrationError, path, '`a`', 'camera_matrix')
    path.write_text(text.replace('name: b', 'name: a'))
    _raises(CalibrationError, path, '`a`', '`name`', 'duplicated')


@pytest.mark.parametrize('doc, found', [([1, 2, 3], 'a list'), (None, 'null'),
                                         ('calibration', 'a str'), ({}, r'keys \[\]'),
                                         ({'foo': 1, 'bar': [2]}, r"keys \['foo', 'bar'\]")])
def test_json_of_no_calibration_format_is_not_guessed(tmp_path, doc, found):
    path = tmp_path / 'calib.json'
    path.write_text(json.dumps(doc))
    msg = _raises(CalibrationError, path, 'cannot guess the calibration format', found)
    assert 'image_size' not in msg  # not mistaken for Shelf/Campus
    _raises(CalibrationError, path, 'cannot guess',
            call=lambda: guess_calibration_format(str(path)))


def test_yaml_of_no_calibration_format_is_not_guessed(tmp_path):
    path = tmp_path / 'calib.yaml'
    path.write_text('- 1\n- 2\n')
    _raises(CalibrationError, path, 'cannot guess the calibration format', 'a list')


def test_a_guessed_format_says_what_and_why_when_it_fails(tmp_path):
    path = tmp_path / 'calib.json'
    # a rig file that forgot `units`/`world_up` and `format`: looks like Panoptic
    doc = _rig_doc()
    del doc['format'], doc['units']
    path.write_text(json.dumps(doc))
    _raises(CalibrationError, path, "format guessed as 'panoptic' because",
            '`cameras` field but neither `format`')
    # Shelf/Campus needs the image size, which the file does not store
    path.write_text(json.dumps({'0': dict(R=R, T=[[0], [0], [0]], fx=1, fy=1, cx=0, cy=0)}))
    _raises(CalibrationError, path, "guessed as 'shelf_campus'", 'image_size=')


@pytest.mark.parametrize('name, depth', [('calib.json', 200000), ('calib.yaml', 20000)])
def test_absurdly_nested_calibration(tmp_path, name, depth):
    path = tmp_path / name
    path.write_text('[' * depth + ']' * depth)
    _raises(CalibrationError, path, 'nested too deeply')
    path.write_text(json.dumps(_rig_doc(meta={'a': [[[[[[0]]]]]]})))  # fine when sane
    assert load_cameras(str(path)).names == ['cam_a']


@pytest.mark.parametrize('field, value, unit', [
    ('t', [0.1, 0.2, 1e300], 'm'),      # finite in the file, inf in mm (float32)
    ('t', [0.1, 0.2, 1e36], 'm'),       # finite in float64 mm, not in float32
    ('center', [0.0, 0.0, -1e300], 'm'),
    ('K', [[1e39, 0, 320], [0, 1e39, 240], [0, 0, 1]], 'm'),
])
def test_values_overflowing_after_unit_scaling(tmp_path, field, value, unit):
    doc = _rig_doc(**{field: value})
    if field == 'center':
        del doc['cameras'][0]['t']
    doc['units'] = unit
    path = tmp_path / 'rig.json'
    path.write_text(json.dumps(doc))
    _raises(CalibrationError, path, '`cam_a`', f'`{field}`', 'out of range', 'float32')


def test_overflow_in_other_formats(tmp_path):
    path = tmp_path / 'calibration_seq.json'  # Panoptic, cm: 1e38 cm -> 1e39 mm
    path.write_text(json.dumps(dict(cameras=[dict(name='00_03', resolution=[640, 480], K=K,
                                                  R=R, t=[0, 0, 1e38], distCoef=[0] * 5)])))
    _raises(CalibrationError, path, '`00_03`', '`t`', 'out of range',
            call=lambda: load_cameras(str(path), camera_names=['00_03']))
    yml = tmp_path / 'cams.yml'
    save_opencv_yaml(_rig_cams(), str(yml))
    yml.write_text(yml.read_text().replace('units: mm', 'units: m').replace(
        'data: [ 0., 0., 3000. ]', 'data: [ 0., 0., 1.0e+37 ]'))
    _raises(CalibrationError, yml, '`a`', '`translation`', 'out of range')


def test_repeated_keys_and_names_in_calibrations(tmp_path):
    path = tmp_path / 'rig.json'
    text = json.dumps(_rig_doc())
    path.write_text(text.replace('"K":', '"R": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "K":'))
    _raises(CalibrationError, path, '`cam_a`', r"\['R'\]", 'more than once')
    path.write_text(text.replace('"units": "m"', '"units": "m", "units": "mm"'))
    _raises(CalibrationError, path, 'top level', r"\['units'\]")
    yaml_path = tmp_path / 'rig.yaml'
    yaml_path.write_text('format: selfpose3d_mm/rig\nunits: m\nworld_up: +z\nworld_up: -y\n'
                         'cameras: []\n')
    _raises(CalibrationError, yaml_path, r"\['world_up'\]", 'more than once')
    shelf = tmp_path / 'calibration_shelf.json'
    cam = json.dumps(dict(R=R, T=[[0], [0], [3000]], fx=1000, fy=1000, cx=320, cy=240))
    shelf.write_text('{"0": %s, "1": %s, "0": %s}' % (cam, cam, cam))
    _raises(CalibrationError, shelf, 'camera `0` appears more than once',
            call=lambda: load_cameras(str(shelf), 'shelf_campus', image_size=(640, 480)))


@pytest.mark.parametrize('value, what', [
    ('"1000.0"', 'not numeric'), ('true', 'not numeric'), ('null', 'not numeric'),
    ('[0, 0, 1e999]', 'non-finite'), ('[[1, 2], [3]]', 'not numeric|ragged|values')])
def test_non_numeric_fields(tmp_path, value, what):
    path = tmp_path / 'rig.json'
    doc = json.dumps(_rig_doc(t='@@'))
    path.write_text(doc.replace('"@@"', value))
    _raises(CalibrationError, path, '`cam_a`', '`t`', what)


def test_distortion_counts_and_tilt_range(tmp_path):
    path = tmp_path / 'rig.json'
    for n in (0, 4, 5, 8, 12, 14):
        path.write_text(json.dumps(_rig_doc(dist=[0.01] * n)))
        cams = load_rig(str(path))
        assert cams.num_dist_coeffs == max(n, 5)
        assert torch.allclose(cams.dist[0, :n].double(), torch.full((n, ), 0.01,
                                                                    dtype=torch.float64))
    for n in (1, 3, 6, 7, 9, 13, 15):
        path.write_text(json.dumps(_rig_doc(dist=[0.0] * n)))
        _raises(CalibrationError, path, '`cam_a`', '`dist`', f'has {n} values', '4 / 5 / 8')
    path.write_text(json.dumps(_rig_doc(dist=[0.0] * 12 + [1.6, 0.0])))
    _raises(CalibrationError, path, '`cam_a`', '`dist`', 'tilt angles')


# ------------------------------------------------------------------ pseudo-label files
def _write(tmp_path, data, name='labels.json'):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


F0 = ('seq/00000000', 0)  # frame key, view index (view '00_03')


def _set_score(field, value, person=0, joint=0):
    def mutate(d):
        entry = d['frames'][F0[0]][F0[1]]
        if field == 'keypoints':
            entry['keypoints'][person][joint][2] = value
        else:
            entry['bbox_scores'][person] = value
    return mutate


@pytest.mark.parametrize('mutate, pattern', [
    (_set_score('keypoints', -0.2, 1, 3), r'\.keypoints: keypoint score -0\.2 at \[1, 3\] is '
     r'outside \[0, 1\]'),
    (_set_score('keypoints', 95.0), r'\.keypoints: keypoint score 95 at \[0, 0\]'),
    (_set_score('keypoints', 1.01), r'\.keypoints: keypoint score 1\.01 at \[0, 0\]'),
    (_set_score('keypoints', -2.0, 1, 0), r'\.keypoints: keypoint score -2 at \[1, 0\]'),
    (_set_score('keypoints', float('nan')), r'\.keypoints: non-finite'),
    (_set_score('bbox_scores', 1.2), r'\.bbox_scores: box score 1\.2 at \[0\] is outside '
     r'\[0, 1\]'),
    (_set_score('bbox_scores', -1e-3), r'\.bbox_scores: box score -0\.001'),
    (_set_score('bbox_scores', float('nan')), r'\.bbox_scores: non-finite'),
])
def test_implausible_scores(tmp_path, mutate, pattern):
    data = copy.deepcopy(raw_labels())
    mutate(data)
    path = _write(tmp_path, data)
    _raises(PseudoLabelError, path, r'frames\[seq/00000000\]\[00_03\]' + pattern,
            call=lambda: load_pseudo_labels(path))


def test_scores_within_a_float_tolerance_the_missing_marker_and_a_wider_bound(tmp_path):
    data = raw_labels()
    _set_score('bbox_scores', 1.0 + 1e-7)(data)
    _set_score('keypoints', 1.0 + 1e-7)(data)
    _set_score('keypoints', -1e-7, 0, 1)(data)
    _set_score('keypoints', -1.0, 0, 2)(data)  # the common "missing joint" marker
    path = _write(tmp_path, data)
    assert len(load_pseudo_labels(path)) == 2
    _set_score('keypoints', 1.08)(data)  # a raw mmpose confidence, not clipped
    path = _write(tmp_path, data)
    with pytest.raises(PseudoLabelError, match='keypoint score 1.08 .*max_keypoint_score'):
        load_pseudo_labels(path)
    labels = load_pseudo_labels(path, max_keypoint_score=1.5)  # configurable
    assert labels.frames[F0[0]][0]['keypoints'][0, 0, 2] == np.float32(1.08)


def test_duplicate_frame_keys(tmp_path):
    data = raw_labels()
    frames = data.pop('frames')
    (k0, v0), (k1, v1) = frames.items()
    text = json.dumps(data)[:-1] + ', "frames": {%s: %s, %s: %s, %s: %s}}' % (
        json.dumps(k0), json.dumps(v0), json.dumps(k1), json.dumps(v1), json.dumps(k0),
        json.dumps(v1))
    path = tmp_path / 'labels.json'
    path.write_text(text)
    _raises(PseudoLabelError, str(path), r'frames\[seq/00000000\]: the frame key appears '
            'more than once', call=lambda: load_pseudo_labels(str(path)))
    # a repeated field inside an entry, and at the top level
    entry = json.dumps(v0[0])
    path.write_text(text.replace(json.dumps(k0) + ': ' + json.dumps(v1), '"seq/9": ' +
                                 json.dumps(v1)).replace(
        entry, entry[:-1] + ', "bboxes": []}', 1))
    _raises(PseudoLabelError, str(path), r"frames\[seq/00000000\]\[00_03\]: field\(s\) "
            r"\['bboxes'\]", call=lambda: load_pseudo_labels(str(path)))
    path.write_text('{"skeleton": "coco17", ' + json.dumps(raw_labels())[1:])
    _raises(PseudoLabelError, str(path), r"field\(s\) \['skeleton'\] appear more than once",
            call=lambda: load_pseudo_labels(str(path)))


def test_too_many_persons_in_one_view(tmp_path):
    data = raw_labels()
    entry = data['frames'][F0[0]][1]  # view 00_06
    P = 5000
    entry['keypoints'] = [entry['keypoints'][0]] * P
    entry['bboxes'] = [entry['bboxes'][0]] * P
    entry['bbox_scores'] = [entry['bbox_scores'][0]] * P
    path = _write(tmp_path, data)
    _raises(PseudoLabelError, path, r'frames\[seq/00000000\]\[00_06\]\.keypoints: 5000 '
            'persons, more than max_persons_per_view=100',
            call=lambda: load_pseudo_labels(path))
    assert len(load_pseudo_labels(path, max_persons_per_view=P)) == 2  # configurable
    with pytest.raises(PseudoLabelError, match='max_persons_per_view=100'):
        save_pseudo_labels(str(tmp_path / 'out.json'), data)
    save_pseudo_labels(str(tmp_path / 'out.json'), data, max_persons_per_view=P)
    assert pl.MAX_PERSONS_PER_VIEW == 100


@pytest.mark.parametrize('content, what', [
    (bytes(range(256)) * 4, 'binary'),
    ('{"format": 1}'.encode('utf-16'), 'UTF-16'),
    (b'[' * 200000 + b']' * 200000, 'nested too deeply'),
    (b'null', 'top level must be a JSON object, got null'),
    (b'[1, 2, 3]', 'top level must be a JSON object, got list'),
])
def test_pseudo_label_files_that_are_not_json_objects(tmp_path, content, what):
    path = tmp_path / 'labels.json'
    path.write_bytes(content)
    _raises(PseudoLabelError, str(path), what, call=lambda: load_pseudo_labels(str(path)))
