"""Cross-view pose retrieval (MCSS's evaluation) and nearest-moment search: numpy/scipy.

Protocol. Every entry is a person seen by one view at one instant: an embedding, the
person's 3D pose and the view. For each query the database is every entry of *another*
view (the query's own view excluded, so an embedding cannot win by recognising the
camera); the K nearest by embedding (Euclidean) are retrieved and scored by the
Procrustes-aligned MPJPE (rotation, uniform scale and translation fitted, reflections
excluded) of their 3D pose to the query's. ``Mean-PA-MPJPE@K`` is the mean over the K
retrieved and over the queries. The *oracle* retrieves, in the same database, the K
entries of smallest PA-MPJPE itself: a lower bound of every embedding's score.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional, Sequence

import numpy as np
from scipy.spatial.distance import cdist

__all__ = ['procrustes_align', 'pa_mpjpe', 'pa_mpjpe_matrix', 'cross_view_retrieval',
           'nearest_moments']


def procrustes_align(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``source`` (..., J, 3) aligned onto ``target`` (..., J, 3) by the similarity
    transform (rotation, positive scale, translation) of least squared error,
    batched over the leading dimensions (one SVD of a 3 x 3 matrix per pose)."""
    src = np.asarray(source, np.float64)
    tgt = np.asarray(target, np.float64)
    mu_s, mu_t = src.mean(-2, keepdims=True), tgt.mean(-2, keepdims=True)
    a, b = src - mu_s, tgt - mu_t
    H = np.swapaxes(a, -1, -2) @ b  # (..., 3, 3)
    U, S, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(U @ Vt))
    d = np.where(d == 0, 1.0, d)
    D = np.ones(S.shape)
    D[..., -1] = d
    R = (U * D[..., None, :]) @ Vt  # a @ R ≈ b, det(R) = +1
    var = (a ** 2).sum((-2, -1))
    scale = (S * D).sum(-1) / np.where(var > 0, var, 1.0)
    return scale[..., None, None] * (a @ R) + mu_t


def pa_mpjpe(pred: np.ndarray, target: np.ndarray,
             visible: Optional[np.ndarray] = None) -> np.ndarray:
    """(...,) PA-MPJPE of ``pred`` to ``target`` (..., J, 3) (units of ``target``).

    ``visible`` (..., J) bool: the joints used (both the fit and the error); NaN joints
    of either pose are never used. A pose with fewer than 3 usable joints: NaN.
    """
    p, t = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    p, t = np.broadcast_arrays(p, t)
    m = np.isfinite(p).all(-1) & np.isfinite(t).all(-1)
    if visible is not None:
        m = m & np.asarray(visible, bool)
    elif m.all() and p.shape[-2] >= 3:  # complete poses: no masking
        return np.linalg.norm(procrustes_align(p, t) - t, axis=-1).mean(-1)
    w = m[..., None]
    n = m.sum(-1)
    # unused joints are set to the mean of the used ones: no effect on the fit
    mp = np.where(w, np.nan_to_num(p), 0).sum(-2, keepdims=True) / np.maximum(n, 1)[
        ..., None, None]
    mt = np.where(w, np.nan_to_num(t), 0).sum(-2, keepdims=True) / np.maximum(n, 1)[
        ..., None, None]
    pf, tf = np.where(w, np.nan_to_num(p), mp), np.where(w, np.nan_to_num(t), mt)
    aligned = procrustes_align(pf, tf)
    err = np.where(m, np.linalg.norm(aligned - tf, axis=-1), 0).sum(-1) / np.maximum(n, 1)
    return np.where(n >= 3, err, np.nan)


def pa_mpjpe_matrix(poses_a: np.ndarray, poses_b: Optional[np.ndarray] = None,
                    chunk: int = 65536) -> np.ndarray:
    """(N, M) PA-MPJPE of every pose of ``poses_b`` (M, J, 3) aligned onto every pose of
    ``poses_a`` (N, J, 3) (default ``poses_b = poses_a``), in chunks of ``chunk`` pairs."""
    a = np.asarray(poses_a, np.float64)
    b = a if poses_b is None else np.asarray(poses_b, np.float64)
    N, M = len(a), len(b)
    out = np.empty(N * M)
    rows = max(1, chunk // max(M, 1))
    for s in range(0, N, rows):  # N / rows chunks, each vectorised
        e = min(N, s + rows)
        out[s * M:e * M] = pa_mpjpe(b[None, :], a[s:e, None]).reshape(-1)
    return out.reshape(N, M)


def _topk(dist: np.ndarray, k: int) -> np.ndarray:
    """(N, k) column indices of the k smallest entries per row, in increasing order."""
    k = min(k, dist.shape[1])
    part = np.argpartition(dist, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(dist, part, 1).argsort(1, kind='stable')
    return np.take_along_axis(part, order, 1)


def cross_view_retrieval(embeddings: np.ndarray, poses: np.ndarray, views: Sequence,
                         ks: Iterable[int] = (1, 10, 20), oracle: bool = True,
                         groups: Optional[Sequence] = None) -> Dict[str, float]:
    """Mean-PA-MPJPE@K of embedding retrieval (and of the oracle), module docstring.

    Args:
        embeddings: (N, D) one per (person, view, frame) entry.
        poses: (N, J, 3) the entries' 3D poses (any frame: PA removes it), e.g. mm.
        views: (N,) view ids (any hashable); the database of a query is the entries of
            the other views.
        ks: the K reported.
        oracle: also report the oracle (N² Procrustes fits, chunked).
        groups: optional (N,) ids (e.g. recording): the database is further restricted
            to the query's group.
    Returns:
        ``{'mean_pa_mpjpe@K': ..., 'oracle_pa_mpjpe@K': ..., 'num_queries': N}`` (units of
        ``poses``); K is capped at the size of the smallest query database.
    """
    emb = np.asarray(embeddings, np.float64)
    P = np.asarray(poses, np.float64)
    N = len(emb)
    if P.shape[0] != N or len(views) != N:
        raise ValueError(f'cross_view_retrieval: {N} embeddings, {P.shape[0]} poses, '
                         f'{len(views)} views')
    ks = sorted({int(k) for k in ks})
    _, v = np.unique(np.asarray(views), return_inverse=True)
    allowed = v[:, None] != v[None, :]
    if groups is not None:
        _, g = np.unique(np.asarray(groups), return_inverse=True)
        allowed &= g[:, None] == g[None, :]
    q = allowed.any(1)
    out: Dict[str, float] = {'num_queries': int(q.sum())}
    if not q.any():
        return out
    kmax = min(max(ks), int(allowed.sum(1)[q].min()))
    D = np.where(allowed, cdist(emb, emb), np.inf)[q]
    idx = _topk(D, kmax)  # (Q, kmax)
    qi = np.nonzero(q)[0]
    err = pa_mpjpe(P[idx], P[qi][:, None])  # (Q, kmax)
    full = pa_mpjpe_matrix(P[qi], P) if oracle else None
    if full is not None:
        full = np.where(allowed[q], full, np.inf)
        best = np.sort(np.where(np.isnan(full), np.inf, full), axis=1)[:, :kmax]
    for k in ks:
        kk = min(k, kmax)
        out[f'mean_pa_mpjpe@{k}'] = float(np.nanmean(err[:, :kk]))
        if full is not None:
            out[f'oracle_pa_mpjpe@{k}'] = float(np.mean(best[:, :kk][np.isfinite(
                best[:, :kk])]))
    return out


def nearest_moments(query: np.ndarray, database: np.ndarray, k: int = 10,
                    exclude: Optional[np.ndarray] = None):
    """The ``k`` database rows nearest to ``query`` (D,) by Euclidean distance.

    Args:
        database: (M, D) rows (NaN rows are never returned).
        exclude: (M,) bool, rows not to return.
    Returns:
        indices (k',) and distances (k',), nearest first (ties: lower index first).
    """
    db = np.asarray(database, np.float64)
    d = np.linalg.norm(db - np.asarray(query, np.float64)[None], axis=1)
    d = np.where(np.isfinite(d), d, np.inf)
    if exclude is not None:
        d = np.where(np.asarray(exclude, bool), np.inf, d)
    order = np.argsort(d, kind='stable')
    order = order[np.isfinite(d[order])][:int(k)]
    return order, d[order]
