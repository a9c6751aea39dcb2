"""Command-line argument helpers shared by the tools (no package dependencies)."""
from __future__ import annotations

from typing import Dict, Optional, Sequence

__all__ = ['parse_view_map']


def parse_view_map(items: Optional[Sequence[str]], flag: str, tool: str) -> Dict[str, str]:
    """``['cam0=path', ...]`` → ``{'cam0': 'path'}``; a malformed item or a view given twice
    ends the tool with a one-line message (``SystemExit``) naming ``tool`` and ``flag``."""
    out: Dict[str, str] = {}
    for item in items or []:
        view, sep, path = item.partition('=')
        if not sep or not view or not path:
            raise SystemExit(f'{tool}: {flag} takes VIEW=PATH items, got {item!r}')
        if view in out:
            raise SystemExit(f'{tool}: {flag}: view {view!r} given twice')
        out[view] = path
    return out
