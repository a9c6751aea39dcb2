from .guarded import GuardedOptimWrapper

__all__ = ['GuardedOptimWrapper']
