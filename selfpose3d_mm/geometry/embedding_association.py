"""Cross-view person association by pose embedding (a product use of MCSS).

A view-invariant pose embedding (``MCSSEmbedder``) gives the same person at the same
instant nearly the same vector in every view, whatever the camera; two people in
different poses get far-apart vectors. That separates people that epipolar geometry
alone confuses (two people on one epipolar line, a person occluded in a view).

:func:`associate_by_embedding` groups the persons of the C views of one frame into
clusters of at most one person per view, from a cost per cross-view person pair in
units of its acceptance threshold (a pair is a candidate when its cost is below 1):

* ``mode='embedding'``: ``cost = |e_a - e_b| / embedding_threshold`` (the embeddings
  alone, no calibration needed);
* ``mode='gate'`` (with geometric distances): the geometric cost, but pairs whose
  embedding distance exceeds ``embedding_threshold`` are forbidden;
* ``mode='sum'``: ``(1 - weight) · geometric + weight · |e_a - e_b| /
  embedding_threshold``.

``geometric`` is the triangulation baseline's association distance (the truncated-mean
symmetric epipolar distance of :mod:`.association`) divided by its ``assoc_threshold``:
the same unit. Grouping: candidate pairs in increasing cost merge their clusters when
the clusters use disjoint views and the mean cost over all their cross pairs stays
below 1 (average linkage: no chaining), as the baseline's own grouping does.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np
import torch
from torch import Tensor

__all__ = ['EMBEDDING_ASSOCIATION_MODES', 'embedding_distances', 'association_cost',
           'greedy_view_clusters', 'associate_by_embedding', 'clusters_to_index']

EMBEDDING_ASSOCIATION_MODES = ('embedding', 'gate', 'sum')
_INF = float('inf')


def embedding_distances(embeddings: Tensor, person_mask: Optional[Tensor] = None) -> Tensor:
    """(C, C, P, P) Euclidean distance between the L2-normalised embeddings (C, P, D) of
    person p of view i and person q of view j; +inf within a view and for masked or
    all-zero (no embedding) persons."""
    e = torch.as_tensor(embeddings).double()
    C, P = e.shape[:2]
    norm = e.norm(dim=-1)
    ok = norm > 1e-9
    if person_mask is not None:
        ok = ok & torch.as_tensor(person_mask, device=e.device).bool()
    e = e / norm.clamp(min=1e-9).unsqueeze(-1)
    d = (e.view(C, 1, P, 1, -1) - e.view(1, C, 1, P, -1)).norm(dim=-1)
    ar = torch.arange(C, device=e.device)
    other_view = (ar.view(C, 1) != ar.view(1, C)).view(C, C, 1, 1)
    valid = ok.view(C, 1, P, 1) & ok.view(1, C, 1, P) & other_view
    return torch.where(valid, d, torch.full_like(d, _INF))


def association_cost(embeddings: Tensor, person_mask: Optional[Tensor] = None,
                     geometric: Optional[Tensor] = None, mode: str = 'gate',
                     embedding_threshold: float = 0.6, weight: float = 0.5) -> Tensor:
    """(C, C, P, P) pair costs in threshold units (module docstring); +inf: never."""
    if mode not in EMBEDDING_ASSOCIATION_MODES:
        raise ValueError(f'associate_by_embedding: mode must be one of '
                         f'{EMBEDDING_ASSOCIATION_MODES}, got {mode!r}')
    if not embedding_threshold > 0:
        raise ValueError(f'associate_by_embedding: embedding_threshold must be > 0, got '
                         f'{embedding_threshold}')
    de = embedding_distances(embeddings, person_mask) / float(embedding_threshold)
    if mode == 'embedding':
        return de
    if geometric is None:
        raise ValueError(f"associate_by_embedding: mode {mode!r} needs the geometric "
                         "distances (or use mode='embedding')")
    g = torch.as_tensor(geometric, device=de.device).double()
    if g.shape != de.shape:
        raise ValueError(f'associate_by_embedding: geometric distances {tuple(g.shape)}, '
                         f'embeddings give {tuple(de.shape)}')
    g = torch.where(torch.isnan(g), torch.full_like(g, _INF), g)
    if mode == 'gate':
        return torch.where(de < 1, g, torch.full_like(g, _INF))
    w = float(weight)
    return (1 - w) * g + w * de


def greedy_view_clusters(cost: np.ndarray, min_views: int = 2) -> List[Dict[int, int]]:
    """Average-linkage greedy grouping with at most one person per view.

    Args:
        cost: (C, C, P, P) symmetric costs, candidates below 1 (+inf: never).
        min_views: clusters with fewer views are dropped.
    Returns:
        clusters ``{view: person}``, in the order they were formed.
    """
    cost = np.asarray(cost, np.float64)
    i, j, p, q = np.nonzero(cost < 1.0)
    up = i < j
    i, j, p, q = i[up], j[up], p[up], q[up]
    order = np.argsort(cost[i, j, p, q], kind='stable')
    owner: Dict[tuple, int] = {}
    clusters: Dict[int, Dict[int, int]] = {}
    nid = 0
    for n in order:  # the candidate pairs, a few per person
        a, b = owner.get((i[n], p[n])), owner.get((j[n], q[n]))
        if a is not None and a == b:
            continue
        ma = clusters[a] if a is not None else {int(i[n]): int(p[n])}
        mb = clusters[b] if b is not None else {int(j[n]): int(q[n])}
        if set(ma) & set(mb):
            continue  # one person per view
        va, pa = np.array(list(ma.keys())), np.array(list(ma.values()))
        vb, pb = np.array(list(mb.keys())), np.array(list(mb.values()))
        cross = cost[va[:, None], vb[None, :], pa[:, None], pb[None, :]]
        if not np.isfinite(cross).all() or cross.mean() >= 1.0:
            continue  # average linkage over every cross pair
        for cid in (a, b):
            if cid is not None:
                del clusters[cid]
        clusters[nid] = {**ma, **mb}
        for v, pv in clusters[nid].items():
            owner[(v, pv)] = nid
        nid += 1
    return [c for c in clusters.values() if len(c) >= int(min_views)]


def associate_by_embedding(embeddings: Tensor, person_mask: Optional[Tensor] = None,
                           geometric: Optional[Tensor] = None, mode: Optional[str] = None,
                           embedding_threshold: float = 0.6, weight: float = 0.5,
                           min_views: int = 2) -> List[Dict[int, int]]:
    """The cross-view grouping of one frame's persons (module docstring).

    Args:
        embeddings: (C, P, D) per view and person (padded; zeros: no embedding).
        person_mask: (C, P) bool real persons (default: non-zero embeddings).
        geometric: optional (C, C, P, P) geometric distances in units of their threshold
            (+inf: incompatible).
        mode: ``'embedding'``, ``'gate'`` or ``'sum'``; default ``'gate'`` with
            geometric distances, else ``'embedding'``.
        embedding_threshold: largest embedding distance of a pair of the same person
            (L2-normalised embeddings: in [0, 2]; 0.6 = the training margin).
        weight: share of the embedding in ``'sum'`` mode.
        min_views: smallest cluster returned.
    Returns:
        clusters ``{view: person}`` (the form the baseline's grouping returns).
    """
    mode = mode or ('embedding' if geometric is None else 'gate')
    cost = association_cost(embeddings, person_mask, geometric, mode, embedding_threshold,
                            weight)
    return greedy_view_clusters(cost.cpu().numpy(), min_views)


def clusters_to_index(clusters: List[Dict[int, int]], num_views: int,
                      device=None) -> Tensor:
    """(N, C) long: the person of each view in each cluster (-1: none)."""
    idx = torch.full((len(clusters), num_views), -1, dtype=torch.long, device=device)
    for n, cl in enumerate(clusters):  # a handful of clusters
        for v, p in cl.items():
            idx[n, v] = int(p)
    return idx
