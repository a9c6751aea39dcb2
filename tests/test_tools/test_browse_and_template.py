"""configs/selfpose3d_custom_rig.py as the base of a user's config (data_root, the pasted
lines of tools/estimate_space.py, images as a dict, videos), and tools/browse_dataset.py
drawing the real images of such a rig."""
import copy
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

from selfpose3d_mm.apis import (apply_linked_settings, estimate_capture_space,
                                format_space_config, load_config)
from tests.conftest import load_tool
from tests.rig_files import IMAGE_SIZE, write_rig

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / 'configs' / 'selfpose3d_custom_rig.py'


@pytest.fixture(scope='module')
def studio(tmp_path_factory):
    return write_rig(tmp_path_factory.mktemp('studio'), videos=True)


def _child(tmp_path, studio, body: str) -> Path:
    path = tmp_path / 'my_studio.py'
    path.write_text(f'_base_ = [{str(TEMPLATE)!r}]\n'
                    f"data_root = {str(studio['root']) + '/'!r}\n"
                    "calibration = 'rig.json'\npseudo_labels = 'pseudo.json'\n" + body)
    return path


def test_child_config_sets_root_space_and_image_folders(studio, tmp_path):
    init_default_scope('mmpose')
    est = estimate_capture_space(studio['cams'])
    pasted = format_space_config(est)  # the lines tools/estimate_space.py prints
    assert pasted.startswith('space_center = (')
    images = {v: f'images/{v}' for v in studio['cams'].names}
    path = _child(tmp_path, studio, f'images = {images!r}\n{pasted}\n')
    cfg = load_config(str(path))
    for split in ('train', 'test'):
        ds = DATASETS.build(copy.deepcopy(cfg[f'{split}_dataloader']['dataset']))
        assert ds.calibration == str(studio['root'] / 'rig.json')  # under data_root
        assert ds.space_center == tuple(est['space_center'])
        assert ds.space_size == tuple(est['space_size'])
        assert ds.images.paths == {v: str(studio['root'] / 'images' / v)
                                   for v in studio['cams'].names}
        assert len(ds) == 2
    model = MODELS.build(cfg.model)  # the network searches the pasted space
    assert model.root_head.space_center == tuple(est['space_center'])
    assert model.root_head.space_size == tuple(est['space_size'])
    # mmengine alone would have kept the template's values (what the links fix)
    raw = Config.fromfile(str(path))
    assert raw.test_dataloader.dataset.data_root == 'data/my_rig/'
    assert raw.model.root_head.space_size == (8000.0, 8000.0, 2000.0)
    assert apply_linked_settings(raw).model.root_head.space_size == tuple(est['space_size'])
    # the template itself: space None (the dataset takes the root cube), the default images
    base = load_config(str(TEMPLATE))
    assert base.test_dataloader.dataset.space_center is None
    assert base.model.root_head.space_center == tuple(base.root_cube.space_center)
    assert base.test_dataloader.dataset.images == 'images/{view}/{frame:06d}.jpg'


def test_child_config_with_videos_builds_and_browses(studio, tmp_path):
    path = _child(tmp_path, studio, "images = None\nvideos = 'videos/{view}.mp4'\n")
    out = tmp_path / 'browse'
    load_tool('browse_dataset').main([str(path), '--out', str(out), '--phase', 'test',
                                      '--num', '1', '--scale', '1.0'])
    views = cv2.imread(str(out / 'custom_rig_00000000_views.png'))[..., ::-1]
    tile = views[4:4 + IMAGE_SIZE[1], 4:4 + IMAGE_SIZE[0]].astype(float)
    src = studio['images'][0][0].astype(float)  # decoded from the mp4, drawn on
    assert np.median(np.abs(tile - src)) < 12  # the frame, not a grey canvas
    assert tile.std() > 10


def test_browse_draws_the_real_images_with_safe_names(studio, tmp_path):
    path = _child(tmp_path, studio, '')  # the template's images/{view}/{frame:06d}.jpg...
    for name, folder in studio['folders'].items():  # ... as the user's JPEGs
        for f, png in enumerate(sorted(Path(folder).glob('*.png'))):
            cv2.imwrite(str(studio['root'] / 'images' / name / f'{f:06d}.jpg'),
                        cv2.imread(str(png)))
    out = tmp_path / 'browse'
    load_tool('browse_dataset').main([str(path), '--out', str(out), '--num', '2',
                                      '--scale', '1.0'])
    names = sorted(p.name for p in out.iterdir())
    assert names == ['custom_rig_00000000_scene3d.png', 'custom_rig_00000000_views.png',
                     'custom_rig_00000001_scene3d.png', 'custom_rig_00000001_views.png']
    grey = np.full((IMAGE_SIZE[1], IMAGE_SIZE[0], 3), 60.0)
    for f in range(2):
        views = cv2.imread(str(out / f'custom_rig_{f:08d}_views.png'))[..., ::-1]
        W = IMAGE_SIZE[0]
        for c in range(3):
            tile = views[4:4 + IMAGE_SIZE[1], 4 + c * (W + 4):4 + c * (W + 4) + W]
            src = studio['images'][f][c].astype(float)
            err = np.abs(tile.astype(float) - src)
            assert np.median(err) < 8, (f, c)  # the image (JPEG, overlays aside)
            assert np.median(np.abs(tile - grey)) > 10  # not a grey panel
        band = views[4 + IMAGE_SIZE[1] + 4:]  # the legend under the tiles
        assert band.shape[0] > 10 and band.std() > 10
