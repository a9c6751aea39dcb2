"""Cross-view person association by pose embedding: the identity is recovered where the
embeddings make it unambiguous, alone or gating / added to the geometric distances; one
person per view; masked persons never join."""
import numpy as np
import pytest
import torch

from selfpose3d_mm.geometry.embedding_association import (association_cost,
                                                          associate_by_embedding,
                                                          clusters_to_index,
                                                          embedding_distances,
                                                          greedy_view_clusters)


def _scene(C=4, P=4, D=16, noise=0.05, seed=0, missing=((2, 3),)):
    """Per person a unit vector, seen by every view with small noise, the order of the
    persons shuffled per view; ``missing`` (view, person) pairs are not seen.

    Returns embeddings (C, Q, D), mask (C, Q) and who (C, Q): the person of each slot."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(P, D))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    emb = np.zeros((C, P, D))
    who = np.full((C, P), -1)
    mask = np.zeros((C, P), bool)
    for c in range(C):
        people = [p for p in rng.permutation(P) if (c, p) not in missing]
        for q, p in enumerate(people):
            e = base[p] + noise * rng.normal(size=D)
            emb[c, q] = e / np.linalg.norm(e)
            who[c, q], mask[c, q] = p, True
    return torch.from_numpy(emb), torch.from_numpy(mask), who


def _identities(clusters, who):
    return sorted(sorted({int(who[v, q]) for v, q in cl.items()}) for cl in clusters)


def test_embedding_alone_recovers_the_identities():
    emb, mask, who = _scene()
    clusters = associate_by_embedding(emb, mask)
    assert _identities(clusters, who) == [[0], [1], [2], [3]]  # one identity per cluster
    sizes = sorted(len(c) for c in clusters)
    assert sizes == [3, 4, 4, 4]  # person 3 is missing from view 2
    for cl in clusters:
        assert all(mask[v, q] for v, q in cl.items())
    idx = clusters_to_index(clusters, 4)
    assert idx.shape == (4, 4) and int((idx >= 0).sum()) == 15


def test_gate_resolves_what_geometry_confuses():
    emb, mask, who = _scene(C=2, P=2, missing=())
    # geometry cannot tell: every cross-view pair is equally plausible, the wrong
    # pairing marginally preferred
    geo = torch.full((2, 2, 2, 2), float('inf'), dtype=torch.float64)
    same = torch.from_numpy(who[0][:, None] == who[1][None, :])
    geo[0, 1] = torch.where(same, 0.5, 0.45)
    geo[1, 0] = geo[0, 1].T
    wrong = greedy_view_clusters(geo.numpy())
    assert all(len(set(who[v, q] for v, q in cl.items())) == 2 for cl in wrong)
    right = associate_by_embedding(emb, mask, geometric=geo)  # mode 'gate'
    assert _identities(right, who) == [[0], [1]]
    summed = associate_by_embedding(emb, mask, geometric=geo, mode='sum', weight=0.5)
    assert _identities(summed, who) == [[0], [1]]


def test_costs_masks_and_errors():
    emb, mask, who = _scene(C=3, P=3, missing=())
    d = embedding_distances(emb, mask)
    assert d.shape == (3, 3, 3, 3)
    assert torch.isinf(d[0, 0]).all()  # never within a view
    mask[1, 0] = False
    d = embedding_distances(emb, mask)
    assert torch.isinf(d[1, :, 0]).all() and torch.isinf(d[:, 1, :, 0]).all()
    clusters = associate_by_embedding(emb, mask)
    assert all(cl.get(1) != 0 for cl in clusters)
    zeros = emb.clone()
    zeros[2, 1] = 0  # no embedding for that person: never associated
    assert torch.isinf(embedding_distances(zeros)[2, :, 1]).all()
    with pytest.raises(ValueError, match='mode'):
        association_cost(emb, mode='nope')
    with pytest.raises(ValueError, match='needs the geometric'):
        association_cost(emb, mode='gate')
    with pytest.raises(ValueError, match='geometric distances'):
        association_cost(emb, geometric=torch.zeros(2, 2, 2, 2), mode='sum')
    # a tight threshold separates everything: no cluster of two views
    assert associate_by_embedding(emb, mask, embedding_threshold=1e-3) == []
