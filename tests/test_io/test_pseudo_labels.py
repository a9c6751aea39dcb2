"""The pseudo-label file: exact save/load round trip, atomic writes, view selection, and
every validation error naming the file and the field (the per-frame conversion:
tests/test_datasets/test_pseudo_poses.py)."""
import copy
import json
import os

import numpy as np
import pytest

from selfpose3d_mm.io import pseudo_labels as pl
from selfpose3d_mm.io import (PseudoLabelError, PseudoLabels, load_pseudo_labels,
                              save_pseudo_labels)

VIEWS = ['00_03', '00_06', '00_12']


def raw_labels(skeleton='coco17', seed=0):
    """A valid file structure: 2 frames x 3 views, 0-2 persons per view."""
    rng = np.random.default_rng(seed)
    J = pl.SKELETON_JOINTS[skeleton]
    frames = {}
    for key, counts in (('seq/00000000', (2, 1, 0)), ('seq/00000003', (1, 0, 2))):
        entries = []
        for P in counts:
            kp = np.concatenate([rng.uniform(0, 1900, (P, J, 2)),
                                 rng.uniform(0, 1, (P, J, 1))], -1)
            entries.append(dict(bboxes=rng.uniform(0, 1000, (P, 4)).tolist(),
                                bbox_scores=rng.uniform(0.5, 1, P).tolist(),
                                keypoints=kp.tolist()))
        frames[key] = entries
    return dict(format=pl.PSEUDO_LABEL_FORMAT, version=1, skeleton=skeleton, views=VIEWS,
                image_sizes=[[1920, 1080]] * 3, models=dict(detector='d', pose='p'),
                frames=frames)


def write_json(tmp_path, data, name='labels.json'):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_save_load_round_trip_is_exact_and_atomic(tmp_path, monkeypatch):
    replaced = []
    real_replace = os.replace
    import selfpose3d_mm.utils.io as uio
    monkeypatch.setattr(uio.os, 'replace', lambda a, b: (replaced.append((a, b)),
                                                        real_replace(a, b)))
    path = str(tmp_path / 'sub' / 'labels.json')
    save_pseudo_labels(path, raw_labels())  # from the JSON structure
    assert os.path.dirname(replaced[0][0]) == os.path.dirname(path)  # temp file beside it
    a = load_pseudo_labels(path)
    assert isinstance(a, PseudoLabels) and a.path == path and len(a) == 2
    assert a.views == VIEWS and a.skeleton == 'coco17' and a.models['pose'] == 'p'
    assert a.image_sizes.shape == (3, 2) and list(a.keys()) == ['seq/00000000', 'seq/00000003']
    e = a.frames['seq/00000000'][0]
    assert e['keypoints'].shape == (2, 17, 3) and e['keypoints'].dtype == np.float32
    assert e['bboxes'].shape == (2, 4) and e['bbox_scores'].shape == (2, )
    assert a.frames['seq/00000000'][2]['keypoints'].shape == (0, 17, 3)  # empty view
    save_pseudo_labels(str(tmp_path / 'b.json'), a)  # from the loaded object
    b = load_pseudo_labels(str(tmp_path / 'b.json'))
    for k in a.keys():
        for ea, eb in zip(a.frames[k], b.frames[k]):
            for n in ('keypoints', 'bboxes', 'bbox_scores'):
                assert ea[n].dtype == eb[n].dtype and np.array_equal(ea[n], eb[n])
    assert (a.views, a.skeleton, a.models) == (b.views, b.skeleton, b.models)
    assert np.array_equal(a.image_sizes, b.image_sizes)
    save_pseudo_labels(str(tmp_path / 'c.json'), b)
    assert (tmp_path / 'b.json').read_bytes() == (tmp_path / 'c.json').read_bytes()
    # an invalid structure is never written and leaves no temporary file
    bad = raw_labels()
    bad['frames']['seq/00000000'][0]['keypoints'][0][0][0] = float('nan')
    with pytest.raises(PseudoLabelError, match='non-finite'):
        save_pseudo_labels(path, bad)
    assert sorted(os.listdir(tmp_path / 'sub')) == ['labels.json']
    assert np.array_equal(load_pseudo_labels(path).frames['seq/00000000'][0]['keypoints'],
                          a.frames['seq/00000000'][0]['keypoints'])


def test_views_are_selected_and_reordered_by_name(tmp_path):
    data = raw_labels()
    data['image_sizes'] = [[1920, 1080], [1280, 720], [640, 480]]
    path = write_json(tmp_path, data)
    labels = load_pseudo_labels(path)
    sub = labels.subset_views(['00_12', '00_03'])
    assert sub.views == ['00_12', '00_03']
    assert sub.image_sizes.tolist() == [[640, 480], [1920, 1080]]
    assert sub.frames['seq/00000003'][0] is labels.frames['seq/00000003'][2]
    with pytest.raises(PseudoLabelError, match='views.*99_99'):
        labels.subset_views(['99_99'])
    # the dataset's camera order wins over the file's
    again = load_pseudo_labels(path, views=['00_06', '00_12', '00_03'])
    assert again.views == ['00_06', '00_12', '00_03']
    assert np.array_equal(again.frames['seq/00000000'][2]['keypoints'],
                          labels.frames['seq/00000000'][0]['keypoints'])


def _set(path, value):
    """Mutator: set data[path[0]][path[1]]... = value (a callable gets the old value)."""
    def mutate(d):
        for p in path[:-1]:
            d = d[p]
        d[path[-1]] = value(d[path[-1]]) if callable(value) else value
    return mutate


F0 = ['frames', 'seq/00000000']
CASES = {
    'format': (_set(['format'], 'coco'), r'field `format`'),
    'no_format': (lambda d: d.pop('format'), r'field `format`'),
    'version': (_set(['version'], 2), r'field `version`'),
    'skeleton': (_set(['skeleton'], 'h36m'), r'field `skeleton`'),
    'views_type': (_set(['views'], '00_03'), r'field `views`'),
    'image_sizes': (_set(['image_sizes'], [[1920, 1080]]), r'field `image_sizes`'),
    'frame_len': (_set(F0, lambda v: v[:2]),
                  r'frames\[seq/00000000\]: 2 entries for the 3 views'),
    'null_view': (_set(F0 + [1], None), r'frames\[seq/00000000\]\[00_06\]: missing view'),
    'missing_field': (lambda d: d['frames']['seq/00000000'][0].pop('bbox_scores'),
                      r'frames\[seq/00000000\]\[00_03\]\.bbox_scores: missing field'),
    'joints': (_set(F0 + [0, 'keypoints'], lambda k: [p[:15] for p in k]),
               r'frames\[seq/00000000\]\[00_03\]\.keypoints: expected 17 joints for '
               r"skeleton 'coco17', got 15"),
    'last_dim': (_set(F0 + [0, 'keypoints'], lambda k: [[j[:2] for j in p] for p in k]),
                 r'\[00_03\]\.keypoints: expected \(x, y, score\) per joint, got last '
                 r'dimension 2'),
    'ragged': (_set(F0 + [0, 'keypoints'], lambda k: [k[0], k[1][:3]]),
               r'\[00_03\]\.keypoints: not a numeric array'),
    'nan': (_set(F0 + [0, 'keypoints'], lambda k: [[[np.nan, 1, 1]] * 17] + k[1:]),
            r'\[00_03\]\.keypoints: non-finite'),
    'inf_box': (_set(F0 + [0, 'bboxes'], lambda b: [[0, 0, np.inf, 1]] + b[1:]),
                r'\[00_03\]\.bboxes: non-finite'),
    'boxes_p': (_set(F0 + [0, 'bboxes'], lambda b: b[:1]),
                r'\[00_03\]\.bboxes: 1 persons, but keypoints has 2'),
    'scores_p': (_set(F0 + [1, 'bbox_scores'], []),
                 r'\[00_06\]\.bbox_scores: 0 persons, but keypoints has 1'),
    'empty_view': (lambda d: [e.__setitem__(2, dict(bboxes=[], bbox_scores=[], keypoints=[]))
                              for e in d['frames'].values()],
                   r"views: view\(s\) \['00_12'\] have no detection in any of the 2 frames"),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_malformed_files_name_the_file_and_the_field(tmp_path, case):
    mutate, pattern = CASES[case]
    data = copy.deepcopy(raw_labels())
    mutate(data)
    path = write_json(tmp_path, data)
    with pytest.raises(PseudoLabelError, match=pattern) as e:
        load_pseudo_labels(path)
    assert str(e.value).startswith(path)


def test_file_level_errors(tmp_path):
    missing = str(tmp_path / 'nope.json')
    with pytest.raises(FileNotFoundError) as e:
        load_pseudo_labels(missing)
    assert isinstance(e.value, PseudoLabelError) and str(e.value).startswith(missing)
    bad = tmp_path / 'bad.json'
    bad.write_text('{"format": ')
    with pytest.raises(PseudoLabelError, match=f'^{bad}: not valid JSON'):
        load_pseudo_labels(str(bad))
    path = write_json(tmp_path, raw_labels())
    with pytest.raises(PseudoLabelError, match=(
            r'labels.json: field `views`: camera count differs from the pseudo-label file: '
            r"the dataset has 2 cameras \['00_03', '00_06'\], the file 3 "
            r"\['00_03', '00_06', '00_12'\]")):
        load_pseudo_labels(path, views=['00_03', '00_06'])
    with pytest.raises(PseudoLabelError, match=r"field `views`: camera names differ.*'00_23'"):
        load_pseudo_labels(path, views=['00_03', '00_06', '00_23'])
    with pytest.raises(PseudoLabelError, match=r'field `skeleton`.*14 joints'):
        load_pseudo_labels(path, num_joints=14)
    assert len(load_pseudo_labels(path, num_joints=15)) == 2
