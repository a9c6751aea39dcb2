import importlib.util
import os
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
import torch

# The real-file samples live beside the checkout (never copied into it).
FIXTURES = Path(os.environ.get('SELFPOSE3D_FIXTURES',
                               Path(__file__).resolve().parents[1].parent / 'shared' / 'fixtures'))


def load_tool(name: str):
    """The module of ``tools/<name>.py`` (the tools are scripts, not a package)."""
    path = Path(__file__).resolve().parents[1] / 'tools' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'{name}_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixture_path(*parts) -> Path:
    """Path of a real-data fixture file; skips the test when it is absent."""
    p = FIXTURES.joinpath(*parts)
    if not p.exists():
        pytest.skip(f'fixture not available: {p}')
    return p


@pytest.fixture
def ring_rig():
    """A generated 5-view studio rig around an 8 x 8 x 2 m space (Panoptic-like)."""
    from selfpose3d_mm.datasets.synthetic.rig import make_ring_rig
    rng = np.random.default_rng(3)
    return make_ring_rig(rng, (0.0, -500.0, 800.0), (8000.0, 8000.0, 2000.0))


@pytest.fixture
def panoptic_rig():
    from selfpose3d_mm.io import load_panoptic_calibration
    path = fixture_path('panoptic', '160906_band1', 'calibration_160906_band1.json')
    return load_panoptic_calibration(str(path))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
