"""Reading third-party pickle files without running their code.

A pickle names the functions and classes that rebuild its objects, and ``pickle.load``
imports and calls whatever is named (``os.system``, ``eval``, ...): loading an untrusted
pickle runs its payload. The package writes no pickle; the third-party pickles it reads
(VoxelPose's Shelf / Campus detections ``pred_*_maskrcnn_hrnet_coco.pkl``, the Panoptic
pose bank ``panoptic_training_pose.pkl``, legacy ``tools/test.py --out`` dumps) go through
:class:`RestrictedUnpickler`, which admits only the globals that plain data needs:

=================================================  ========================================
admitted global                                    what it rebuilds
=================================================  ========================================
``builtins``: ``set``, ``frozenset``, ``list``,     containers and scalars (``set`` /
``dict``, ``tuple``, ``bytearray``, ``bytes``,      ``frozenset`` / ``bytearray`` /
``str``, ``int``, ``float``, ``complex``,           ``complex`` have no opcode of their own;
``bool``                                            the others are a ``defaultdict``'s
                                                    factory, or a protocol-0/1 ``REDUCE``)
``collections``: ``OrderedDict``, ``defaultdict``   ordered / default dicts (the detection
                                                    pickles are ``defaultdict``)
``_codecs.encode`` (latin-1 only)                   ``bytes`` in a protocol-2 pickle
``numpy.ndarray``, ``numpy.dtype``,                 numpy arrays, dtypes and scalars (numpy 1
``numpy[._]core.multiarray._reconstruct``,          writes ``numpy.core``, numpy 2
``numpy[._]core.multiarray.scalar``,                ``numpy._core``); ``_frombuffer`` is the
``numpy[._]core.numeric._frombuffer``               protocol-5 form of an array
=================================================  ========================================

Anything else raises :class:`UnsafePickleError` naming the file and the refused global,
before the global is imported. A reader may extend the list for its format
(:func:`load_pickle`'s ``extra``: e.g. torch tensors of legacy prediction dumps, whose
storages are then read by torch's weights-only loader) or map classes it does not use to
an inert :class:`OpaqueObject` (``opaque_prefixes``: nothing of the named class runs).
"""
from __future__ import annotations

import _compat_pickle
import codecs
import os.path as osp
import pickle
from typing import Callable, Dict, Iterable, Optional, Tuple

import numpy as np

__all__ = ['UnsafePickleError', 'RestrictedUnpickler', 'OpaqueObject', 'SAFE_GLOBALS',
           'load_pickle']


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global outside the allow-list (loading it could run code)."""


def _numpy_attr(modules: Iterable[str], name: str):
    """``name`` from the first of ``modules`` (numpy 2's ``_core`` / numpy 1's ``core``)
    that has it, imported without numpy 2's ``numpy.core`` deprecation shim."""
    import importlib
    for module in modules:
        try:
            obj = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if obj is not None:
            return obj
    raise ImportError(f'numpy has no {name} in {list(modules)}')


def _latin1_encode(obj, encoding='utf-8', errors='strict'):
    """``_codecs.encode`` as protocol-2 pickles use it (``bytes`` → latin-1 text → bytes);
    any other codec is refused."""
    if codecs.lookup(encoding).name != 'iso8859-1' or not isinstance(obj, str):
        raise pickle.UnpicklingError(f'_codecs.encode with encoding {encoding!r} is not '
                                     'admitted (only latin-1, for bytes)')
    return codecs.encode(obj, encoding, errors)


def _safe_globals() -> Dict[Tuple[str, str], object]:
    import collections
    out: Dict[Tuple[str, str], object] = {
        ('builtins', t.__name__): t for t in (set, frozenset, list, dict, tuple, bytearray,
                                              bytes, str, int, float, complex, bool)}
    out[('collections', 'OrderedDict')] = collections.OrderedDict
    out[('collections', 'defaultdict')] = collections.defaultdict
    out[('_codecs', 'encode')] = _latin1_encode
    out[('numpy', 'ndarray')] = np.ndarray
    out[('numpy', 'dtype')] = np.dtype
    for sub, name in (('multiarray', '_reconstruct'), ('multiarray', 'scalar'),
                      ('numeric', '_frombuffer')):
        fn = _numpy_attr((f'numpy._core.{sub}', f'numpy.core.{sub}'), name)
        for pkg in ('numpy._core', 'numpy.core'):
            out[(f'{pkg}.{sub}', name)] = fn
    return out


SAFE_GLOBALS: Dict[Tuple[str, str], object] = _safe_globals()


class OpaqueObject:
    """Stands in for an instance of a class a reader does not use: it keeps the
    arguments and state the pickle gave (plain data) and runs nothing of the class."""

    __slots__ = ('global_name', 'args', 'state')

    def __init__(self, global_name: str, args: tuple = (), state=None):
        self.global_name, self.args, self.state = global_name, args, state

    def __repr__(self) -> str:
        return f'<OpaqueObject {self.global_name}>'


def _opaque_class(global_name: str) -> type:
    """A class per refused-but-tolerated global, so NEWOBJ / REDUCE / BUILD on it only
    record data."""
    def new(cls, *args, **kwargs):
        obj = object.__new__(cls)
        OpaqueObject.__init__(obj, global_name, args)
        return obj

    def init(self, *args, **kwargs):
        pass

    def setstate(self, state):
        self.state = state

    return type('Opaque', (OpaqueObject, ), dict(__new__=new, __init__=init,
                                                 __setstate__=setstate, __slots__=()))


class RestrictedUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` whose ``find_class`` admits only :data:`SAFE_GLOBALS`
    (plus ``extra``; ``opaque_prefixes``: module prefixes whose classes load as inert
    :class:`OpaqueObject` s). Refused globals raise :class:`UnsafePickleError` naming
    ``path`` and the global; nothing is imported for them.

    ``pickle.Unpickler.persistent_load`` is not defined, so persistent ids are refused
    too.
    """

    def __init__(self, file, path: str, extra: Optional[Dict[Tuple[str, str], object]] = None,
                 opaque_prefixes: Tuple[str, ...] = (), **kwargs):
        super().__init__(file, **kwargs)
        self.path = str(path)
        self.allowed = dict(SAFE_GLOBALS)
        self.allowed.update(extra or {})
        self.opaque_prefixes = tuple(opaque_prefixes)
        self._opaque: Dict[str, type] = {}

    def find_class(self, module: str, name: str):
        # Python 2 names (pickle maps them too; Python 3 pickles never use them)
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        obj = self.allowed.get((module, name))
        if obj is not None:
            return obj
        full = f'{module}.{name}'
        if any(full.startswith(p) for p in self.opaque_prefixes):
            return self._opaque.setdefault(full, _opaque_class(full))
        raise UnsafePickleError(
            f'{self.path}: refused global `{full}`: this pickle would import and call it '
            'while loading; only plain data (Python containers and scalars, numpy arrays, '
            'dtypes and scalars) is read from pickle files (selfpose3d_mm.io.safe_pickle)')


def load_pickle(path: str, extra: Optional[Dict[Tuple[str, str], object]] = None,
                opaque_prefixes: Tuple[str, ...] = (),
                wrap_errors: Optional[Callable[[str], Exception]] = None):
    """Load a pickle file through :class:`RestrictedUnpickler`.

    Python 2 pickles of numpy arrays (``UnicodeDecodeError`` with the default ASCII
    decoding of their byte strings) are read again with ``encoding='latin1'``.

    Args:
        extra, opaque_prefixes: see :class:`RestrictedUnpickler`.
        wrap_errors: builds the exception raised when the file is not a readable pickle
            (default ``ValueError``); the message names the file.
    """
    path = str(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'file not found: {path}')
    wrap_errors = wrap_errors or ValueError
    for encoding in ('ASCII', 'latin1'):
        with open(path, 'rb') as f:
            try:
                return RestrictedUnpickler(f, path, extra, opaque_prefixes,
                                           encoding=encoding).load()
            except UnsafePickleError:
                raise
            except UnicodeDecodeError:
                if encoding == 'latin1':
                    raise wrap_errors(f'{path}: not a readable pickle (text that is '
                                      'neither ASCII nor latin-1)') from None
            except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError,
                    IndexError, AttributeError, MemoryError, RuntimeError) as e:
                raise wrap_errors(f'{path}: not a readable pickle ({type(e).__name__}: '
                                  f'{e})') from None
