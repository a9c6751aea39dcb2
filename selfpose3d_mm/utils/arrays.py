"""Array conversion shared by the readers and the metrics."""
import numpy as np

__all__ = ['to_numpy']


def to_numpy(x) -> np.ndarray:
    """Tensor / array / list → numpy (model outputs may still be torch tensors)."""
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)
