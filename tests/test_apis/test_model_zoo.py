"""Named models that ship with the package: publishing a checkpoint (network weights only,
a card with its SHA-256), loading by name (checked), the fine-tuning config that starts
from the generalist, and the generalist itself on a rig it has never seen."""
import copy
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import selfpose3d_mm.model_zoo as zoo
from selfpose3d_mm.apis import MultiViewPoseInferencer, load_config
from selfpose3d_mm.utils.safe_load import load_checkpoint_file
from tests.conftest import load_tool
from tests.rig_files import write_rig

ROOT = Path(__file__).resolve().parents[2]
GENERALIST = ROOT / 'configs' / 'selfpose3d_generalist.py'
FINETUNE = ROOT / 'configs' / 'selfpose3d_finetune_rig.py'
SHIPPED = (Path(zoo.__file__).parent / zoo.PRETRAINED_MODELS['generalist']['weights'])


def _tiny_checkpoint(path: Path) -> dict:
    """A checkpoint of the generalist's model, as the Runner writes it (objective incl.)."""
    init_default_scope('mmpose')
    model = MODELS.build(Config.fromfile(str(GENERALIST)).model)
    state = model.state_dict()
    assert any(k.startswith('objective.') for k in state)
    torch.save(dict(state_dict=state, meta=dict(epoch=4), optimizer={}), path)
    return state


def test_publish_keeps_the_network_and_the_card_checks_the_file(tmp_path, monkeypatch):
    state = _tiny_checkpoint(tmp_path / 'epoch_4.pth')
    card = load_tool('publish_model').main([
        str(tmp_path / 'epoch_4.pth'), '--name', 'generalist', '--out-dir', str(tmp_path),
        '--command', 'python tools/train.py x.py', '--seed', '0'])
    weights = tmp_path / zoo.PRETRAINED_MODELS['generalist']['weights']
    saved = load_checkpoint_file(str(weights), map_location='cpu')['state_dict']
    assert set(saved) == {k for k in state if not k.startswith('objective.')}
    assert all(torch.equal(saved[k], state[k]) for k in saved)
    assert card['sha256'] == zoo.sha256_of(weights) and card['epoch'] == 4
    assert json.loads((tmp_path / 'generalist_cpu.json').read_text())['seed'] == 0
    # loading by name checks the file against its card
    monkeypatch.setattr(zoo, '_HERE', tmp_path)
    config, path = zoo.pretrained_model('generalist')
    assert Path(config).name == 'selfpose3d_generalist.py' and Path(path) == weights
    with open(weights, 'ab') as f:
        f.write(b'\0')
    with pytest.raises(ValueError, match='SHA-256'):
        zoo.pretrained_model('generalist')
    with pytest.raises(ValueError, match='unknown model name'):
        zoo.pretrained_model('specialist')


def test_finetune_config_keeps_the_generalists_voxel_and_searches_your_space(tmp_path):
    child = tmp_path / 'my_finetune.py'
    child.write_text(f'_base_ = [{str(FINETUNE)!r}]\n'
                     "data_root = 'data/studio/'\n"
                     'space_center = (100.0, -200.0, 800.0)\n'
                     'space_size = (9000.0, 7000.0, 2000.0)\n')
    cfg = load_config(str(child))
    gen = Config.fromfile(str(GENERALIST)).model.root_head
    head = cfg.model.root_head
    # the generalist's network (its trained voxel), searching the frames' space
    for key in ('space_center', 'space_size', 'cube_shape', 'mid_channels'):
        assert tuple(head[key]) == tuple(gen[key]) if isinstance(gen[key], tuple) \
            else head[key] == gen[key], key
    assert head.space_from == 'frame'
    for split in ('train', 'test'):
        ds = cfg[f'{split}_dataloader'].dataset
        assert ds.space_center == (100.0, -200.0, 800.0) and ds.data_root == 'data/studio/'
    # tools/train.py turns load_from='generalist' into the shipped weights
    args = type('A', (), dict(launcher='none', work_dir=str(tmp_path / 'w'), amp=False,
                              resume=None, no_validate=False, cfg_options=None))()
    if SHIPPED.is_file():
        merged = load_tool('train').merge_args(copy.deepcopy(cfg), args)
        assert Path(merged.load_from) == SHIPPED
    # a generalist checkpoint fits the fine-tuning model (attention net aside)
    init_default_scope('mmpose')
    ft = MODELS.build(cfg.model)
    g = MODELS.build(Config.fromfile(str(GENERALIST)).model)
    shapes = {k: v.shape for k, v in g.state_dict().items() if not k.startswith('objective.')}
    assert shapes == {k: v.shape for k, v in ft.state_dict().items()
                      if not k.startswith('objective.')}


@pytest.mark.skipif(not SHIPPED.is_file(), reason='the generalist weights are not shipped')
def test_generalist_runs_by_name_on_a_rig_it_has_never_seen(tmp_path):
    """A 3-camera 480 x 270 rig (the generalist trains on none of these draws), space not
    given: estimated from the cameras and the 2D poses."""
    rig = write_rig(tmp_path, frames=2, people=2)
    inferencer = MultiViewPoseInferencer('generalist', device='cpu')
    assert inferencer.model.objective is None  # predicts only
    assert inferencer.method.search_cube is None  # searches the frame's space
    results = inferencer.run(calibration=rig['rig'], pseudo_labels=rig['pseudo'],
                             out_dir=str(tmp_path / 'out'), refine=True, draw=False)['frames']
    assert len(results) == 2
    assert (tmp_path / 'out' / 'poses3d.json').is_file()
    for r in results:
        assert r['keypoints_3d'].shape[1:] == (15, 3)
        assert torch.isfinite(torch.as_tensor(r['keypoints_3d'])).all()
