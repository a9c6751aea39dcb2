# Optimisation-free baseline (MvPose-like): cross-view association of the simulated 2D
# detections + robust N-view triangulation; no training, no checkpoint.
#     python tools/test.py configs/triangulation_synthetic.py
# Same test data as configs/voxelpose_synthetic.py (the 2D poses are mapped back from the
# network input to the original pixels, so the input size only adds rounding).
_base_ = ['./_base_/default_runtime.py', './_base_/datasets/synthetic_world.py']

space_center = {{_base_.space_center}}
space_size = {{_base_.space_size}}

# ---- data: the base test split and pipeline (MultiViewResize to (480, 256))
val_dataloader = dict(dataset=dict(num_samples=100))
test_dataloader = dict(dataset=dict(num_samples=300))
train_dataloader = None  # nothing to train
train_cfg = None
optim_wrapper = None
param_scheduler = None

# ---- model
model = dict(
    type='TriangulationBaseline',
    space_center=space_center,
    space_size=space_size,
    triangulation=dict(),  # overrides of TRIANGULATION_DEFAULTS (geometry/association.py)
)

# ---- evaluation
val_cfg = dict()
test_cfg = dict()
val_evaluator = dict(type='MultiViewPoseAPMetric')
test_evaluator = val_evaluator
