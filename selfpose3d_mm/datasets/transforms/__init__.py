"""Multi-view transforms: every transform acts on all views (and view-sets) of a sample."""
from .affine import MultiViewAffine, MultiViewRandomAffinePair, MultiViewResize
from .formatting import LoadMultiViewImages, PackMultiViewInputs
from .photometric import MultiViewCutout, MultiViewRandAugment

__all__ = [
    'MultiViewAffine', 'MultiViewRandomAffinePair', 'MultiViewResize',
    'LoadMultiViewImages', 'PackMultiViewInputs', 'MultiViewCutout', 'MultiViewRandAugment'
]
