"""PoseTracker on synthetic people whose identities are known: walking bodies of
``datasets/synthetic/body.py`` put on crossing straight paths, with detection noise,
missed detections and ghosts; counted with ``tracking.metrics.mot_counts``."""
import numpy as np
import pytest

from selfpose3d_mm.datasets.synthetic.body import PeopleSequence
from selfpose3d_mm.tracking import (OneEuroFilter, PoseTracker, collect_tracks, mot_counts,
                                    pose_track_costs, smooth_tracks)

FPS, F = 30.0, 150


def _scene(seed=0, miss=0.1, ghost=0.1, noise=15.0, gap=(40, 44)):
    """4 people: A and B walk head-on past each other 400 mm apart, C crosses both
    paths, D stays near one spot and is not detected in frames ``gap``. Returns the GT
    poses (F, 4, 15, 3), the shuffled detections, their true ids (ghosts: >= 100)."""
    rng = np.random.default_rng(seed)
    t = np.arange(F) / FPS
    body = PeopleSequence(rng, 4, (0, 0, 800), (8000, 8000, 2000)).joints(t)
    body[..., :2] -= body[:, :, 2:3, :2]               # postures, rooted at the origin
    s = t / t[-1]
    paths = np.stack([np.stack([-3000 + 6000 * s, 0 * s], -1),
                      np.stack([3000 - 6000 * s, 400 + 0 * s], -1),
                      np.stack([300 + 0 * s, -3300 + 6000 * s], -1),
                      np.stack([2000 + 100 * np.sin(t), -2000 + 0 * s], -1)], 1)
    gt = body.copy()
    gt[..., :2] += paths[:, :, None]
    dets, true_ids = [], []
    for f in range(F):
        keep = rng.random(4) >= miss
        if gap[0] <= f < gap[1]:
            keep[3] = False
        p = gt[f][keep] + rng.normal(0, noise, (keep.sum(), 15, 3))
        ids = np.flatnonzero(keep)
        if rng.random() < ghost:  # a pose somewhere in the room, for one frame
            g = body[f, 0] + np.r_[rng.uniform(-4000, 4000, 2), 0.0]
            p, ids = np.concatenate([p, g[None]]), np.r_[ids, 100 + f]
        perm = rng.permutation(len(p))
        dets.append(p[perm])
        true_ids.append(ids[perm])
    return gt, dets, true_ids


def test_crossing_people_keep_their_ids_despite_misses_and_ghosts():
    gt, dets, true_ids = _scene()
    ids = PoseTracker(fps=FPS).track_sequence(dets)
    counts = mot_counts(list(gt), [np.arange(4)] * F, dets, ids)
    print('\ntracking counts (4 people crossing, 150 frames, 15 mm noise, 10 % missed, '
          f'~10 % frames with a ghost): {counts}')
    assert counts['id_switches'] <= 1
    assert counts['mota'] >= 0.85          # the 10 % missed detections bound it at ~0.9
    assert counts['fp'] == 0
    # each true person got one id, and ids are not shared between persons
    per_person = [set(np.concatenate([i[t == k] for i, t in zip(ids, true_ids)]).tolist())
                  - {-1} for k in range(4)]
    assert all(len(s) == 1 for s in per_person), per_person
    assert len(set.union(*per_person)) == 4
    # a ghost (seen in one frame) never gets an id
    ghosts = np.concatenate([i[t >= 100] for i, t in zip(ids, true_ids)])
    assert len(ghosts) >= 5 and (ghosts == -1).all()
    # D, missed in frames 40-43 (< max_misses), keeps its id across the gap
    d = [i[t == 3] for i, t in zip(ids, true_ids)]
    assert len(set(np.concatenate(d[30:40] + d[44:60]).tolist())) == 1


def test_the_evaluator_counts_an_id_swap():
    gt, dets, true_ids = _scene(miss=0.0, ghost=0.0)
    swapped = [i.copy() for i in PoseTracker(fps=FPS).track_sequence(dets)]
    for f in range(F // 2, F):  # relabel A <-> B halfway: one switch for each
        a, b = swapped[f][true_ids[f] == 0], swapped[f][true_ids[f] == 1]
        swapped[f][true_ids[f] == 0], swapped[f][true_ids[f] == 1] = b, a
    counts = mot_counts(list(gt), [np.arange(4)] * F, dets, swapped)
    assert counts['id_switches'] == 2 and counts['fp'] == 0
    assert counts['fn'] == 4  # D's 4 frames without a detection


def test_constant_velocity_bridges_a_gap_longer_than_the_gate():
    """A runner (6 m/s) unseen for 4 frames moves 1 m, twice the gate: the prediction
    ``last + velocity * dt`` finds it again; a tracker without the velocity could not."""
    step = np.array([200.0, 0, 0])                       # mm per frame
    base = np.random.default_rng(4).normal(0, 200, (15, 3))
    seq = [base + k * step if not 10 <= k < 14 else np.zeros((0, 15, 3))
           for k in range(25)]
    seq = [s[None] if s.ndim == 2 else s for s in seq]
    ids = PoseTracker(fps=FPS, max_distance=500).track_sequence(seq)
    assert set(np.concatenate(ids).tolist()) == {0}


def test_a_person_missing_longer_than_max_misses_gets_a_new_id():
    gt, dets, true_ids = _scene(miss=0.0, ghost=0.0, gap=(40, 50))
    ids = PoseTracker(fps=FPS, max_misses=5).track_sequence(dets)
    d = [i[t == 3] for i, t in zip(ids, true_ids)]
    before, after = set(np.concatenate(d[30:40]).tolist()), set(np.concatenate(d[55:70]).tolist())
    assert len(before) == len(after) == 1 and before != after


def test_births_need_min_hits_and_update_reports_minus_one_until_then():
    pose = np.zeros((1, 15, 3))
    tr = PoseTracker(fps=FPS, min_hits=3)
    got = [tr.update(pose + [10.0 * k, 0, 0])[0] for k in range(3)]
    assert got == [-1, -1, 0]
    assert sorted(tr.backfill) == [(0, 0, 0), (1, 0, 0)]  # the frames it was tentative
    assert tr.update(pose + [30.0, 0, 0])[0] == 0 and tr.backfill == []
    tr2 = PoseTracker(fps=FPS, min_hits=3)
    seq = tr2.track_sequence([pose + [10.0 * k, 0, 0] for k in range(4)])
    assert [int(s[0]) for s in seq] == [0, 0, 0, 0]   # backfilled
    assert PoseTracker(fps=FPS).update(np.zeros((0, 15, 3))).shape == (0, )


def test_cost_is_vectorised_and_gated_on_common_joints():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 500, (3, 15, 3)), rng.normal(0, 500, (4, 15, 3))
    va, vb = rng.random((3, 15)) > 0.2, rng.random((4, 15)) > 0.2
    vb[3] = False                                            # no joint at all
    c = pose_track_costs(a, va, b, vb)
    for t in range(3):
        for n in range(3):
            m = va[t] & vb[n]
            d = np.linalg.norm(a[t, m] - b[n, m], axis=-1)
            root = np.linalg.norm(a[t, m].mean(0) - b[n, m].mean(0))
            assert c[t, n] == pytest.approx(0.5 * root + 0.5 * d.mean())
    assert np.isinf(c[:, 3]).all()
    with pytest.raises(ValueError, match='max_distance'):
        PoseTracker(max_distance=0)


def test_collect_and_smooth_tracks():
    rng = np.random.default_rng(2)
    T = 90
    t = np.arange(T) / FPS
    truth = np.stack([300 * np.sin(t), 150 * t, 900 + 0 * t], -1)            # (T, 3)
    poses = truth[:, None, None, :] + rng.normal(0, 20, (T, 1, 2, 3))      # 1 person
    ids = [np.array([7]) for _ in range(T)]
    ids[30] = np.array([-1])                                               # untracked
    tracks = collect_tracks(list(poses), ids)
    fr, p, v = tracks[7]
    assert len(fr) == T - 1 and 30 not in fr and p.shape == (T - 1, 2, 3) and v.all()
    v = v.copy()
    v[10:14, 1] = False                                                    # a gap
    for method, kw in (('one_euro', dict(min_cutoff=1.0, beta=0.003)),
                       ('savgol', dict(window=11, polyorder=2))):
        sm = smooth_tracks({7: (fr, p, v)}, method, FPS, **kw)[7]
        assert (sm[0] == fr).all() and (sm[2] == v).all()
        err_raw = np.linalg.norm(p[:, 0] - truth[fr], axis=-1)[15:-5].mean()
        err_sm = np.linalg.norm(sm[1][:, 0] - truth[fr], axis=-1)[15:-5].mean()
        assert err_sm < 0.75 * err_raw, (method, err_raw, err_sm)
        assert np.array_equal(sm[1][10:14, 1], p[10:14, 1])   # missing stays untouched
    with pytest.raises(ValueError, match='method'):
        smooth_tracks(tracks, 'kalman')


def test_one_euro_filter_smooths_rest_more_than_motion():
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 5, (200, 1, 3))
    filt = OneEuroFilter(min_cutoff=0.5, beta=0.005)
    still = np.stack([filt(noise[k], 1 / FPS) for k in range(200)])
    assert still[50:].std() < 0.4 * noise[50:].std()
    # a fast ramp (2 m/s): the speed term keeps the lag small
    ramp = np.arange(60)[:, None, None] * np.array([2000 / FPS, 0, 0])
    for beta, max_lag in ((0.005, 60.0), (0.0, None)):
        f2 = OneEuroFilter(min_cutoff=0.5, beta=beta)
        out = np.stack([f2(ramp[k], 1 / FPS) for k in range(60)])
        lag = float(np.abs(out - ramp)[-1, 0, 0])
        if max_lag is not None:
            assert lag < max_lag
        else:
            assert lag > 300.0  # without the speed term it trails far behind
