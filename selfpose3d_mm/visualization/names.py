"""File names of the pictures."""
import re

__all__ = ['safe_file_stem']


def safe_file_stem(frame_id) -> str:
    """A frame id as one file-name component: every run of characters other than
    letters, digits, ``_``, ``.`` and ``-`` (``/`` included: ``custom_rig/00000012`` →
    ``custom_rig_00000012``) becomes ``_``; never empty, never ``.``/``..``."""
    stem = re.sub(r'[^A-Za-z0-9_.-]+', '_', str(frame_id)).strip('_')
    return stem if stem.strip('.') else 'frame'
