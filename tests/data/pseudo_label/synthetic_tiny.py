# Three rendered frames x three views of the synthetic world at 256 x 144 px: the input of
# the tests of tools/pseudo_label.py.
custom_imports = dict(imports=['selfpose3d_mm'], allow_failed_imports=False)
default_scope = 'mmpose'
world = dict(type='SyntheticMultiViewDataset', space_center=(0.0, 0.0, 800.0),
             space_size=(6000.0, 6000.0, 2000.0), num_people=(2, 3), outside_prob=0.0,
             rig=dict(type='ring', num_views=3, image_size=(256, 144)), rig_seed=0,
             with_images=True, seed=0, frames_per_sequence=2, pipeline=[])
train_dataloader = dict(dataset=dict(**world, split='train', num_samples=3))
