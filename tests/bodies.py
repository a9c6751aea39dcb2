"""A standing Panoptic-15 body and the capture space of the geometry tests that build
their own scenes (refinement, the network's pose as a prior)."""
import numpy as np

SPACE = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))
# a standing Panoptic-15 body (mm; x left, y forward, z up)
TEMPLATE = np.array([
    (0, 0, 1500), (0, 60, 1680), (0, 0, 950), (180, 0, 1480), (200, 30, 1180),
    (220, 120, 950), (100, 0, 930), (110, 30, 500), (110, 0, 80), (-180, 0, 1480),
    (-200, 30, 1180), (-220, 120, 950), (-100, 0, 930), (-110, 30, 500), (-110, 0, 80)],
    float)
