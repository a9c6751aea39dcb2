"""The one way components take their knobs (synthetic world, triangulation, capture space)."""
from typing import Mapping

__all__ = ['merge_knobs']


def merge_knobs(defaults: Mapping, knobs: Mapping, owner: str) -> dict:
    """``defaults`` overridden by ``knobs``; an unknown name raises ``ValueError`` naming
    it, the owner and the valid names (a typo must never be silently ignored)."""
    unknown = sorted(set(knobs) - set(defaults))
    if unknown:
        raise ValueError(f'{owner}: unknown knob(s) {unknown}; known knobs: '
                         f'{sorted(defaults)}')
    return {**defaults, **knobs}
