from .selfpose3d import SelfPose3D

__all__ = ['SelfPose3D']
