"""Checkpoints load with torch's weights-only unpickler, never a full one.

A ``.pth`` file is a pickle: ``torch.load(..., weights_only=False)`` imports and calls
whatever it names, so a crafted checkpoint runs code when it is loaded. Torch >= 2.6
loads with ``weights_only=True`` by default (tensors, containers, scalars), and mmengine's
``load_checkpoint`` / ``Runner.resume`` call ``torch.load`` without ``weights_only``. What
mmengine writes besides tensors is admitted here, by name, through
``torch.serialization.add_safe_globals`` (:func:`register_checkpoint_safe_globals`, called
once when the package is imported); nothing else is, and the package sets no
environment switch of torch's loader.

The allow-list (:func:`checkpoint_safe_globals`), each entry inert data:

=========================================  ===============================================
global                                     why
=========================================  ===============================================
``mmengine.logging.history_buffer``        ``message_hub.log_scalars`` values (every
``.HistoryBuffer``                         checkpoint mmengine's Runner writes); its state
                                           is two numpy arrays and a dict of its own
                                           (class-level) statistics methods
``numpy._core.multiarray._reconstruct``    numpy arrays: the buffers' histories,
(also under numpy 1's ``numpy.core``       ``meta.dataset_meta`` (mmpose's sigmas, colours),
name), ``numpy.ndarray``                   the numpy RNG state of ``RandomStateHook``
``numpy.dtype`` and the numeric dtype      the dtype of such an array or scalar: numpy
classes (``numpy.dtypes.Float64DType``,    rebuilds a ``dtype`` object whose class is the
``Int64DType``, ``UInt32DType``,           concrete ``numpy.dtypes.*DType`` (bool, signed
``BoolDType``, ...)                        and unsigned integers, floats)
``numpy._core.multiarray.scalar``          numpy scalars (e.g. a metric value kept as
(also ``numpy.core``)                      ``best_score``, log values)
``builtins.getattr``, restricted to        a ``HistoryBuffer``'s state holds its statistics
``getattr(HistoryBuffer, name)`` for its   methods (``HistoryBuffer.min`` ...), which pickle
statistics methods                         writes as ``getattr(HistoryBuffer, 'min')``; any
                                           other object or name is refused
=========================================  ===============================================

(``collections.OrderedDict``, ``set``, ``complex``, ``bytearray``, ``_codecs.encode``,
tensors, storages, ``torch.Size`` / ``torch.device`` are admitted by torch itself.)
Object and string dtypes are not admitted: arrays of them would carry arbitrary objects.

mmengine's checkpoint loaders for local files and for ``http://`` / ``https://`` URLs are
replaced by :func:`load_checkpoint_file` / :func:`load_checkpoint_url` (same behaviour,
plus an explicit ``weights_only=True`` that no environment variable can turn off, and an
error naming the file and the refused globals): mmengine's own loaders call
``torch.load`` without ``weights_only``.
"""
from __future__ import annotations

import importlib
import os
import os.path as osp
import pickle
from typing import List, Tuple
from urllib.parse import urlparse

__all__ = ['UnsafeCheckpointError', 'checkpoint_safe_globals',
           'register_checkpoint_safe_globals', 'load_checkpoint_file', 'load_checkpoint_url']

_NUMERIC_DTYPES = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32',
                   'uint64', 'float16', 'float32', 'float64')
_registered = False


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint names a global outside the weights-only allow-list."""


def _numpy_fn(sub: str, name: str):
    """``numpy._core.<sub>.<name>`` (numpy 2), else ``numpy.core.<sub>.<name>``."""
    for module in (f'numpy._core.{sub}', f'numpy.core.{sub}'):
        try:
            fn = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if fn is not None:
            return fn
    raise ImportError(f'numpy has no {sub}.{name}')


def _history_buffer_getattr(obj, name):
    """``getattr`` as a checkpoint may use it: ``HistoryBuffer``'s statistics methods only
    (pickle protocol 2 writes a method ``HistoryBuffer.min`` as ``getattr(HistoryBuffer,
    'min')``)."""
    from mmengine.logging import HistoryBuffer
    allowed = {'min', 'max', 'current', 'mean'} | set(HistoryBuffer._statistics_methods)
    if obj is not HistoryBuffer or not isinstance(name, str) or name.startswith('_') \
            or name not in allowed:
        raise pickle.UnpicklingError(
            f'getattr({getattr(obj, "__name__", type(obj).__name__)}, {name!r}) is not '
            "admitted (only HistoryBuffer's statistics methods)")
    return getattr(obj, name)


def checkpoint_safe_globals() -> List:
    """The globals admitted in checkpoints (see the module docstring), in the form
    ``torch.serialization.add_safe_globals`` takes: objects, or ``(object, name)`` for an
    object pickled under a name other than its own."""
    import numpy as np
    from mmengine.logging import HistoryBuffer

    out: List = [HistoryBuffer, np.ndarray, np.dtype]
    out += sorted({type(np.dtype(t)) for t in _NUMERIC_DTYPES}, key=lambda t: t.__name__)
    for sub, name in (('multiarray', '_reconstruct'), ('multiarray', 'scalar')):
        fn = _numpy_fn(sub, name)
        for pkg in ('numpy._core', 'numpy.core'):  # written by numpy 2 / numpy 1
            out.append((fn, f'{pkg}.{sub}.{name}'))
    out.append((_history_buffer_getattr, 'builtins.getattr'))
    return out


def register_checkpoint_safe_globals() -> None:
    """Admit :func:`checkpoint_safe_globals` in torch's weights-only unpickler and make
    mmengine's local checkpoint loader :func:`load_checkpoint_file` (once per process)."""
    global _registered
    if _registered:
        return
    import torch
    from mmengine.runner.checkpoint import CheckpointLoader
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
    CheckpointLoader.register_scheme(prefixes='', loader=load_checkpoint_file, force=True)
    CheckpointLoader.register_scheme(prefixes=('http://', 'https://'),
                                     loader=load_checkpoint_url, force=True)
    _registered = True


def _refused_globals(filename: str) -> Tuple[str, ...]:
    import torch
    try:
        return tuple(torch.serialization.get_unsafe_globals_in_checkpoint(filename))
    except Exception:  # not a zip checkpoint: torch's own message says what it refused
        return ()


def load_checkpoint_file(filename: str, map_location=None):
    """``torch.load(filename, map_location, weights_only=True)`` with the allow-list
    registered; mmengine's loader for local paths (``CheckpointLoader`` scheme ``''``).

    Raises:
        FileNotFoundError: no such file.
        UnsafeCheckpointError: the file names a global outside the allow-list (nothing of
            it has run); the message names the file and the globals.
    """
    import torch
    register_checkpoint_safe_globals()
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        refused = _refused_globals(filename)
        what = (f'refused global(s) {", ".join(refused)}' if refused else
                f'refused content ({str(e).splitlines()[-1] if str(e) else e!r})')
        raise UnsafeCheckpointError(
            f'{filename}: not loaded: {what}. Checkpoints are read with torch\'s '
            'weights-only unpickler (tensors and plain data, plus the mmengine / numpy '
            'types listed in selfpose3d_mm.utils.safe_load); loading anything else would '
            'run code the file names.') from None


def load_checkpoint_url(url: str, map_location=None):
    """A checkpoint from ``http(s)://``: downloaded once into torch's hub cache
    (``<hub dir>/checkpoints/<file name>``, as mmengine's loader does; local rank 0 first
    in a distributed run), then read by :func:`load_checkpoint_file`."""
    import torch
    from mmengine.dist import barrier, get_dist_info
    cached = osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(urlparse(url).path))
    rank, world_size = get_dist_info()
    for turn in ((0, ) if world_size == 1 else (0, 1)):
        if (rank == 0) == (turn == 0) and not osp.isfile(cached):
            os.makedirs(osp.dirname(cached), exist_ok=True)
            torch.hub.download_url_to_file(url, cached, progress=False)
        if world_size > 1 and turn == 0:
            barrier()
    return load_checkpoint_file(cached, map_location)
