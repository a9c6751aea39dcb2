"""Atomic file output and format-tagged JSON input, shared by every writer/reader here.

Outputs are never left half-written: data goes to a temporary file beside the target
(same file system), which is renamed onto it only once complete (``os.replace`` is atomic
on POSIX and Windows). A failure removes the temporary file and leaves any previous
version of the target untouched.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import tempfile
from contextlib import contextmanager
from typing import Iterator

__all__ = ['atomic_path', 'atomic_open', 'load_json_document']


@contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path`` (same extension, for writers that pick the
    format from it, e.g. ``cv2.imwrite``); renamed onto ``path`` when the block ends
    without an exception, removed otherwise. The file gets the usual mode (0666 & ~umask)
    rather than ``mkstemp``'s 0600."""
    path = str(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(path) + '.',
                               suffix='.tmp' + osp.splitext(path)[1])
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


@contextmanager
def atomic_open(path: str, mode: str = 'w', **kwargs):
    """``open()`` for writing, atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def load_json_document(path: str, fmt: str) -> dict:
    """Read a JSON object whose ``format`` field must equal ``fmt``; errors name the file
    and the field."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: file not found')
    with open(path, encoding='utf-8') as f:
        try:
            doc = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{path}: not valid JSON ({e})') from None
    if not isinstance(doc, dict) or doc.get('format') != fmt:
        raise ValueError(f'{path}: field `format` must be {fmt!r}')
    return doc
