"""Which parts of a model train in a stage of a multi-stage schedule.

``TrainingStageHook`` calls :meth:`TrainableStages.set_stage` at every epoch: the named
modules train, every other module with parameters is frozen (``requires_grad=False``
and eval mode, BatchNorm statistics included); the losses and label set go to the
model's objective, which validates them against what it can compute.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

from torch import nn

__all__ = ['TrainableStages']


class TrainableStages:
    """Stage control of a model with an ``objective`` (an ``nn.Module`` mixin).

    ``MODULE_GROUPS`` maps user-facing names to module paths; any module path of the
    model (``'root_head'``, ``'objective.attention_net'``) is accepted too.
    """

    MODULE_GROUPS = dict(heatmap_net_2d=('backbone', 'head_2d'), root_net=('root_head', ),
                         pose_net=('pose_head', ), attention=('objective.attention_net', ))
    _trainable: Optional[Tuple[str, ...]] = None
    _frozen: Tuple[str, ...] = ()

    def trainable_units(self) -> Dict[str, nn.Module]:
        """The modules a stage switches on or off: the model's children with parameters,
        and the objective's (prefixed ``objective.``)."""
        units = {}
        for name, module in self.named_children():
            if name in ('data_preprocessor', 'objective'):
                continue
            if any(True for _ in module.parameters()):
                units[name] = module
        if getattr(self, 'objective', None) is not None:
            for name, module in self.objective.named_children():
                if any(True for _ in module.parameters()):
                    units[f'objective.{name}'] = module
        return units

    def _resolve(self, names) -> Tuple[str, ...]:
        units = self.trainable_units()
        out = []
        for n in names:
            paths = self.MODULE_GROUPS.get(n, (n, ))
            for path in paths:
                if path not in units:
                    if n in self.MODULE_GROUPS:
                        continue  # e.g. heatmap_net_2d in heatmap-input mode
                    raise KeyError(f'set_stage: the model has no module {path!r}; modules: '
                                   f'{sorted(units)}, groups: {sorted(self.MODULE_GROUPS)}')
                out.append(path)
        return tuple(out)

    def set_stage(self, train, losses: Dict[str, float], labels: str = 'soft') -> None:
        """Which modules train, which losses are on with which weights, and which
        pseudo-label set the objective reads."""
        if getattr(self, 'objective', None) is None:
            raise RuntimeError('set_stage: the model has no objective to train')
        self.objective.set_stage(losses, labels)
        trainable = self._resolve(train)
        units = self.trainable_units()
        for name, module in units.items():
            module.requires_grad_(name in trainable)
        self._trainable = trainable
        self._frozen = tuple(n for n in units if n not in trainable)
        self.train(self.training)

    def trains(self, group: str) -> bool:
        """Whether any module of ``group`` (a group or module path) trains now."""
        paths = self.MODULE_GROUPS.get(group, (group, ))
        return self._trainable is None or any(p in self._trainable for p in paths)

    def train(self, mode: bool = True):
        """Frozen modules stay in eval mode (BatchNorm statistics included)."""
        super().train(mode)
        for name in self._frozen if mode else ():
            self.get_submodule(name).eval()
        return self
