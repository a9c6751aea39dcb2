from .selfpose3d import SelfPose3D
from .triangulation import TriangulationBaseline

__all__ = ['SelfPose3D', 'TriangulationBaseline']
