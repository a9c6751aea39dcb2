from .multiview_data_preprocessor import (MultiViewDataPreprocessor,
                                          build_data_preprocessor)

__all__ = ['MultiViewDataPreprocessor', 'build_data_preprocessor']
