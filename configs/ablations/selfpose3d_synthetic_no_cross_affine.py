# Ablation: each augmented set's 3D poses are compared with its *own* pseudo heatmaps
# (Y1 in x1, Y2 in x2) instead of the other set's (paper Table 5).
_base_ = ['./selfpose3d_synthetic_short.py']

model = dict(objective=dict(cross_affine=False))
