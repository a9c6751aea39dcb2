"""Small helpers shared across the package (no dependency on its other modules)."""
from .arrays import to_numpy
from .io import atomic_open, atomic_path, load_json_document
from .knobs import merge_knobs

__all__ = ['merge_knobs', 'atomic_open', 'atomic_path', 'load_json_document', 'to_numpy']
