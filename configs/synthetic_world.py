# The synthetic multi-view world on its own (for tools/browse_dataset.py and as the data
# part of the training configs).
_base_ = ['./_base_/datasets/synthetic_world.py']
custom_imports = dict(imports=['selfpose3d_mm'], allow_failed_imports=False)
default_scope = 'mmpose'
