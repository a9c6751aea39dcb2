"""tools/browse_dataset.py writes the per-view and 3D pictures of real samples."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def test_browse_writes_pictures(tmp_path):
    out = tmp_path / 'browse'
    cmd = [sys.executable, str(ROOT / 'tools' / 'browse_dataset.py'),
           str(ROOT / 'configs' / 'synthetic_world.py'),
           '--out', str(out), '--num', '1', '--phase', 'val',
           '--cfg-options', 'val_dataloader.dataset.with_images=True',
           'val_dataloader.dataset.rig.image_size=(640,360)']
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    views = sorted(out.glob('*_views.png'))
    scenes = sorted(out.glob('*_scene3d.png'))
    assert len(views) == 1 and len(scenes) == 1
    img = cv2.imread(str(views[0]))
    assert img is not None and img.shape[0] > 100 and img.shape[1] > 300
    # the overlay draws coloured skeletons: some strongly saturated pixels exist
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    assert (hsv[..., 1] > 150).mean() > 1e-4
    scene = cv2.imread(str(scenes[0]))
    assert scene is not None and scene.std() > 5
    assert not list(out.glob('*.tmp*'))  # written atomically
