"""Top-level config settings that reach the nested dicts *after* a child config's overrides.

mmengine executes a config file once and copies each variable into the dicts that use
it (``dataset=dict(data_root=data_root)``); ``{{_base_.x}}`` is resolved when the file
is parsed too. A child config that sets ``data_root = 'data/studio/'`` or pastes the
lines of ``tools/estimate_space.py`` (``space_center = (...)``) therefore changes only
the top-level variable: the datasets and the model of the base keep the base's values.

A config names its links instead: ``linked_settings`` maps a dotted target path to the
top-level setting it takes (``configs/selfpose3d_custom_rig.py``)::

    linked_settings = {
        'train_dataloader.dataset.data_root': 'data_root',
        # a tuple: the first of these settings that is not None
        'model.root_head.space_center': ('space_center', 'root_cube.space_center'),
    }

:func:`apply_linked_settings` copies them once the whole config (base, child,
``--cfg-options``) is merged; :func:`load_config` does ``Config.fromfile`` + options +
links. Rules: a setting absent from the config leaves its targets as they are (so a
template may leave a setting undefined, e.g. ``images``, for a child to give as a
string or a dict); a tuple whose settings are all None or absent leaves them too; a
target whose container is absent or None (a disabled ``val_dataloader``) is skipped; a
link whose setting is None is switched off (a child config unlinks a target of its base
with ``linked_settings = {'model.root_head.space_center': None}``: mmengine merges the
child's dict into the base's).
Applying twice changes nothing. Configs without ``linked_settings`` are unchanged.
"""
from __future__ import annotations

import copy
from typing import Optional, Sequence, Union

from mmengine.config import Config

__all__ = ['LINKS_KEY', 'apply_linked_settings', 'load_config']

LINKS_KEY = 'linked_settings'
_MISSING = object()


def _lookup(cfg, dotted: str):
    node = cfg
    for part in dotted.split('.'):
        if not hasattr(node, 'get'):
            return _MISSING
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return _MISSING
    return node


def _source_value(cfg, source: Union[str, Sequence[str]], target: str, where: str):
    if isinstance(source, str):
        return _lookup(cfg, source)
    if not isinstance(source, (list, tuple)) or not source or \
            not all(isinstance(s, str) for s in source):
        raise ValueError(f'{where}: {LINKS_KEY}[{target!r}] must be a setting name or a '
                         f'tuple of names, got {source!r}')
    for name in source:
        value = _lookup(cfg, name)
        if value is not _MISSING and value is not None:
            return value
    return _MISSING


def apply_linked_settings(cfg: Config) -> Config:
    """Copy every ``linked_settings`` source into its target path (in place); returns
    ``cfg``. See the module docstring for the rules."""
    links = cfg.get(LINKS_KEY)
    if not links:
        return cfg
    where = getattr(cfg, 'filename', None) or 'the config'
    if not hasattr(links, 'items'):
        raise ValueError(f'{where}: {LINKS_KEY} must be a dict target path -> setting '
                         f'name(s), got {type(links).__name__}')
    for target, source in links.items():
        if source is None:  # unlinked by a child config
            continue
        value = _source_value(cfg, source, target, where)
        if value is _MISSING:
            continue
        parent_path, _, leaf = str(target).rpartition('.')
        parent = _lookup(cfg, parent_path) if parent_path else cfg
        if parent is _MISSING or parent is None or not leaf:
            continue
        if not hasattr(parent, '__setitem__'):
            raise ValueError(f'{where}: {LINKS_KEY}: {parent_path} is a '
                             f'{type(parent).__name__}, not a dict (target {target!r})')
        parent[leaf] = copy.deepcopy(value)
    return cfg


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """``Config.fromfile(path)``, the ``--cfg-options`` merged, then the links applied."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return apply_linked_settings(cfg)
