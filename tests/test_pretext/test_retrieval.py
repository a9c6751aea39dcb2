"""Cross-view retrieval (MCSS's Mean-PA-MPJPE@K): the Procrustes alignment, exact values on
hand-made data against an independent implementation, the other-views restriction, the
oracle as a lower bound, the registered metric and the nearest-moment search."""
import numpy as np
import pytest
from mmengine.structures import BaseDataElement
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from selfpose3d_mm.evaluation.functional.retrieval import (cross_view_retrieval,
                                                           nearest_moments, pa_mpjpe,
                                                           pa_mpjpe_matrix,
                                                           procrustes_align)
from selfpose3d_mm.evaluation.metrics.retrieval import CrossViewRetrievalMetric

J = 15


def _reference_pa(src, tgt):
    """PA-MPJPE by scipy's orthogonal Procrustes (rotation, reflections refused by hand)
    and the closed-form scale."""
    a, b = src - src.mean(0), tgt - tgt.mean(0)
    R, _ = orthogonal_procrustes(a, b)
    if np.linalg.det(R) < 0:  # scipy may reflect: redo with the last axis flipped
        U, S, Vt = np.linalg.svd(a.T @ b)
        D = np.diag([1, 1, -1])
        R = U @ D @ Vt
        s = np.trace(np.diag(S) @ D) / (a ** 2).sum()
    else:
        s = np.trace((a @ R).T @ b) / (a ** 2).sum()
    return np.linalg.norm(s * a @ R - b, axis=1).mean()


def _similar(X, rng):
    R = Rotation.random(random_state=int(rng.integers(1 << 30))).as_matrix()
    return 2.3 * X @ R.T + rng.normal(scale=500, size=(1, 3))


def test_procrustes_of_a_rotated_scaled_translated_copy_is_zero():
    rng = np.random.default_rng(0)
    X = rng.normal(scale=300, size=(8, J, 3))
    Y = np.stack([_similar(x, rng) for x in X])
    np.testing.assert_allclose(pa_mpjpe(Y, X), 0, atol=1e-9)
    np.testing.assert_allclose(procrustes_align(Y, X), X, atol=1e-8)
    mirrored = X * np.array([1, 1, -1])
    assert (pa_mpjpe(mirrored, X) > 1).all()  # a reflection is not a rotation
    noisy = X + rng.normal(scale=20, size=X.shape)
    np.testing.assert_allclose(pa_mpjpe(noisy, X),
                               [_reference_pa(n, x) for n, x in zip(noisy, X)], rtol=1e-9)


def test_missing_joints_and_the_matrix():
    rng = np.random.default_rng(1)
    X = rng.normal(scale=300, size=(5, J, 3))
    Y = X + rng.normal(scale=30, size=X.shape)
    Y[0, :4] = np.nan
    vis = np.ones((5, J), bool)
    vis[1, 10:] = False
    e = pa_mpjpe(Y, X, vis)
    assert abs(e[0] - _reference_pa(Y[0, 4:], X[0, 4:])) < 1e-9
    assert abs(e[1] - _reference_pa(Y[1, :10], X[1, :10])) < 1e-9
    assert np.isnan(pa_mpjpe(X[:1, :2], X[:1, :2]))[0]  # fewer than 3 joints
    M = pa_mpjpe_matrix(X, Y[2:], chunk=7)
    ref = np.array([[_reference_pa(y, x) for y in Y[2:]] for x in X])
    np.testing.assert_allclose(M, ref, rtol=1e-9)


def _hand_made():
    rng = np.random.default_rng(2)
    A, B, B2, C = (rng.normal(scale=300, size=(J, 3)) for _ in range(4))
    poses = np.stack([A, B, _similar(A, rng), B2, C])
    views = [0, 0, 1, 1, 0]
    emb = np.array([[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9], [1, 0]], np.float64)
    return emb, poses, views


def test_mean_pa_mpjpe_at_k_exact_on_hand_made_data():
    emb, P, views = _hand_made()
    pa = lambda i, j: _reference_pa(P[i], P[j])  # retrieved i aligned onto query j
    out = cross_view_retrieval(emb, P, views, ks=(1, 2), oracle=True)
    # query -> database (other views) by embedding distance: 0 -> 2, 3; 1 -> 3, 2;
    # 2 -> 0 (tie with 4: the lower index first), 4; 3 -> 1, 0 or 4 (tie: 0); 4 -> 2, 3
    at1 = [pa(2, 0), pa(3, 1), pa(0, 2), pa(1, 3), pa(2, 4)]
    at2 = [(pa(2, 0) + pa(3, 0)) / 2, (pa(3, 1) + pa(2, 1)) / 2, (pa(0, 2) + pa(4, 2)) / 2,
           (pa(1, 3) + pa(0, 3)) / 2, (pa(2, 4) + pa(3, 4)) / 2]
    assert at1[0] < 1e-9 and at1[2] < 1e-9  # the same pose seen by the other view
    assert out['num_queries'] == 5
    assert out['mean_pa_mpjpe@1'] == pytest.approx(np.mean(at1), rel=1e-9)
    assert out['mean_pa_mpjpe@2'] == pytest.approx(np.mean(at2), rel=1e-9)
    db = {0: [2, 3], 1: [2, 3], 2: [0, 1, 4], 3: [0, 1, 4], 4: [2, 3]}
    best = [sorted(pa(i, q) for i in db[q]) for q in range(5)]
    assert out['oracle_pa_mpjpe@1'] == pytest.approx(np.mean([b[0] for b in best]), rel=1e-9)
    assert out['oracle_pa_mpjpe@2'] == pytest.approx(np.mean([np.mean(b[:2]) for b in best]),
                                                     rel=1e-9)


def test_same_view_entries_are_never_retrieved_and_groups_restrict():
    emb, P, views = _hand_made()
    # entry 4 has entry 0's embedding but the same view: 0 still retrieves 2
    one = cross_view_retrieval(emb, P, views, ks=(1,), oracle=False)
    only = cross_view_retrieval(emb[[0, 2]], P[[0, 2]], [0, 1], ks=(1,), oracle=False)
    assert only['mean_pa_mpjpe@1'] < 1e-9 and one['mean_pa_mpjpe@1'] > 1
    assert 'oracle_pa_mpjpe@1' not in one
    # groups: a = entries 0, 2 (views 0, 1), b = 1, 3 (views 0, 1), c = 4 alone (no
    # database: not a query); 0 <-> 2 are the same pose, 1 <-> 3 are B vs B2
    g = cross_view_retrieval(emb, P, views, ks=(1,), groups=['a', 'b', 'a', 'b', 'c'])
    assert g['num_queries'] == 4
    assert g['mean_pa_mpjpe@1'] == pytest.approx(
        (_reference_pa(P[3], P[1]) + _reference_pa(P[1], P[3])) / 4, rel=1e-9)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_oracle_is_a_lower_bound_of_any_embedding(seed):
    rng = np.random.default_rng(seed)
    N = 60
    P = rng.normal(scale=300, size=(N, J, 3))
    views = rng.integers(0, 4, N)
    emb = rng.normal(size=(N, 8))
    out = cross_view_retrieval(emb, P, views, ks=(1, 5, 20))
    for k in (1, 5, 20):
        assert out[f'oracle_pa_mpjpe@{k}'] <= out[f'mean_pa_mpjpe@{k}'] + 1e-9
        perfect = cross_view_retrieval(P.reshape(N, -1), P, views, ks=(k,), oracle=False)
        assert out[f'oracle_pa_mpjpe@{k}'] <= perfect[f'mean_pa_mpjpe@{k}'] + 1e-9


def test_metric_expands_views_and_matches_the_function():
    emb, P, views = _hand_made()
    samples = [dict(pred_embedding=emb[[0, 2]], views=(0, 1), keypoints_3d=P[0]),
               dict(pred_embedding=emb[[1]], views=(0, ), keypoints_3d=P[1]),
               BaseDataElement(metainfo=dict(views=(1, )), pred_embedding=emb[[3]],
                               keypoints_3d=P[3]),
               dict(pred_embedding=emb[[4]], views=(0, ), keypoints_3d=P[4]),
               dict(pred_embedding=emb[[4]], views=(1, ),
                    keypoints_3d=np.full((J, 3), np.nan))]  # no pose: skipped
    metric = CrossViewRetrievalMetric(ks=(1, 2))
    metric.process({}, samples)
    got = metric.compute_metrics(metric.results)
    P2 = P.copy()
    P2[2] = P[0]  # entry 2 is sample 0's second view: sample 0's pose
    ref = cross_view_retrieval(emb, P2, views, ks=(1, 2))
    assert got == pytest.approx(ref)
    with pytest.raises(ValueError, match='ks'):
        CrossViewRetrievalMetric(ks=())


def test_nearest_moments_excludes_and_skips_nan():
    db = np.array([[0.0, 0.0], [1.0, 0.0], [np.nan, 0.0], [0.1, 0.0], [0.1, 0.0]])
    idx, d = nearest_moments(np.zeros(2), db, k=3)
    assert idx.tolist() == [0, 3, 4] and d[0] == 0
    idx, _ = nearest_moments(np.zeros(2), db, k=10, exclude=np.array([1, 0, 0, 0, 0], bool))
    assert idx.tolist() == [3, 4, 1]
