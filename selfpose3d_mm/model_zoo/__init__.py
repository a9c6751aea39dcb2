"""Models that ship with the package, loaded by name (``--model generalist``).

No weights can be downloaded in this project's setting, so a named model is a config of
the package plus a weights file inside the package (``selfpose3d_mm/model_zoo/``), next
to a JSON card that records how it was made (command, seed, training time, machine,
SHA-256 of the weights). ``tools/publish_model.py`` writes both from a training run.

=============  ===========================================================================
name           what it is
=============  ===========================================================================
generalist     heatmap-input SelfPose3d trained self-supervised on many random synthetic
               rigs (3-8 cameras, ring / half-ring / corner / ceiling layouts, capture
               spaces of 3-10 m, the realistic 2D detector): reads a calibration and 2D
               poses of *your* rig, with no training (``configs/selfpose3d_generalist.py``)
=============  ===========================================================================
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict, Tuple

__all__ = ['PRETRAINED_MODELS', 'pretrained_model', 'model_card', 'sha256_of']

_HERE = Path(__file__).resolve().parent

#: name → config (relative to the package's configs) and the weights file in this folder
PRETRAINED_MODELS: Dict[str, dict] = {
    'generalist': dict(config='selfpose3d_generalist.py', weights='generalist_cpu.pth',
                       card='generalist_cpu.json'),
}


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def pretrained_model(name: str, verify: bool = True) -> Tuple[str, str]:
    """(config path, weights path) of the named model; ``ValueError`` for an unknown name
    and ``FileNotFoundError`` naming what is missing from this installation. With
    ``verify`` the weights' SHA-256 is checked against the model card."""
    from selfpose3d_mm.cli import resource_dir
    if name not in PRETRAINED_MODELS:
        raise ValueError(f'unknown model name {name!r}; the package ships: '
                         f'{sorted(PRETRAINED_MODELS)}')
    entry = PRETRAINED_MODELS[name]
    configs = resource_dir('configs')
    config = configs / entry['config'] if configs is not None else None
    if config is None or not config.is_file():
        raise FileNotFoundError(f'model {name!r}: its config {entry["config"]} is not part of '
                                'this installation of selfpose3d_mm')
    weights = _HERE / entry['weights']
    if not weights.is_file():
        raise FileNotFoundError(
            f'model {name!r}: its weights {weights} are not part of this installation '
            f'(train them with the command in docs/generalist.md)')
    if verify:
        card = model_card(name)
        expected = card.get('sha256')
        if expected and sha256_of(weights) != expected:
            raise ValueError(f'model {name!r}: {weights} does not match the SHA-256 of its '
                             f'model card {_HERE / entry["card"]} (a partial or edited file)')
    return str(config), str(weights)


def model_card(name: str) -> dict:
    """The JSON card of a named model ({} when it has none)."""
    path = _HERE / PRETRAINED_MODELS[name]['card']
    return json.loads(path.read_text()) if path.is_file() else {}
