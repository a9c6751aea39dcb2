"""The synchronisation + flip pretext: the pairs (timing, views, labels, flips, background
handling, determinism), the Siamese net (overfits a few pairs), the accuracy metric, a
few iterations through tools/train.py, the backbone transfer into the image-path
SelfPose3d config, and a few iterations on real Pose2Sim videos."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint
from mmengine.structures import BaseDataElement
from mmpose.registry import MODELS

from selfpose3d_mm.datasets.pretext.people import crop_square
from selfpose3d_mm.datasets.pretext.sync_pairs import SyncFlipPairDataset
from selfpose3d_mm.datasets.synthetic.render import render_background
from selfpose3d_mm.evaluation.metrics.pretext_accuracy import PretextAccuracy
from selfpose3d_mm.models.pretext.sync_net import SyncFlipNet, masked_bce
from tests.conftest import FIXTURES, load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'pretext', 'sync_flip_synthetic.py')
WORLD = dict(type='SyntheticMultiViewDataset', space_center=(0.0, 0.0, 800.0),
             space_size=(6000.0, 6000.0, 2000.0), num_samples=40, frames_per_sequence=20,
             frame_interval=6, num_people=(1, 2), outside_prob=0.0,
             rig=dict(type='ring', num_views=4, image_size=(320, 180)), with_images=True,
             body=dict(activity_bias=(0.5, 1.0)))  # people walk: a clean median background


def _pairs(**kw):
    init_default_scope('mmpose')
    cfg = dict(dataset=dict(WORLD), crop_size=48, num_samples=24,
               clips=dict(background_frames=10))
    cfg.update(kw)
    return SyncFlipPairDataset(**cfg)


def _items(ds, n, seed=100):
    return [ds[(i % len(ds), seed + i)] for i in range(n)]


def test_pairs_timing_views_and_labels():
    ds = _pairs(d_min=10, d_max=20)  # frames 6 apart: non-synchronized |dt| is 12 or 18
    kinds = set()
    for item in _items(ds, 24):
        s = item['data_samples']
        m, y_sync, y_flip = s.metainfo, int(s.gt_sync), int(s.gt_flip)
        assert item['inputs'].shape == (2, 3, 48, 48) and item['inputs'].dtype == torch.uint8
        va, vb = m['views']
        assert va != vb
        dt = abs(m['times'][1] - m['times'][0])
        if m['sync']:
            assert dt == 0 and m['frames'][0] == m['frames'][1]
            assert (y_sync, y_flip) == ((-1, 1) if m['flip'] else (1, 0))
        else:
            assert 10 < dt < 20 and dt in (12, 18) and not m['flip']
            assert (y_sync, y_flip) == (0, -1) and m['flip_side'] == -1
        kinds.add((m['sync'], m['flip']))
    assert kinds == {(True, True), (True, False), (False, False)}


def test_items_are_a_function_of_seed_epoch_and_index():
    a, b = _pairs(), _pairs()
    x, y = a[(5, 77)], b[(5, 77)]
    assert torch.equal(x['inputs'], y['inputs'])
    assert x['data_samples'].metainfo == y['data_samples'].metainfo
    assert torch.equal(a[5]['inputs'], b[5]['inputs'])  # plain index: (seed, 0, index)
    others = [a[(5, s)]['inputs'] for s in (78, 79, 80)]
    assert not all(torch.equal(x['inputs'], o) for o in others)


def test_flip_label_means_one_crop_is_mirrored():
    ds = _pairs(fill='constant')
    found = 0
    for seed in range(200, 260):
        plan = ds.plan(seed % len(ds), np.random.default_rng(seed))
        if plan is None or not plan['flip']:
            continue
        flipped = ds.render(plan)
        plain = ds.render(dict(plan, flip_side=-1))
        k = plan['flip_side']
        assert np.array_equal(flipped[k], plain[k][:, ::-1])
        assert np.array_equal(flipped[1 - k], plain[1 - k])
        assert not np.array_equal(flipped[k], plain[k])
        found += 1
        if found == 3:
            break
    assert found == 3


def _check_background(ds, mode):
    """Share of person pixels kept and of static background pixels replaced."""
    kept, replaced = [], []
    for seed in range(300, 340):
        plan = ds.plan(seed % len(ds), np.random.default_rng(seed))
        if plan is None:
            continue
        assert plan['background'] == mode
        out = ds.render(plan)
        for k in range(2):
            frame = ds.clips.frame(plan['frames'][k])
            view, flip = plan['views'][k], plan['flip_side'] == k
            cx, cy, side = ds.clips.square(plan['boxes'][k])
            raw = crop_square(frame.images[view], (cx, cy), side, 48, flip)
            true_bg = crop_square(render_background(0, view, frame.images[view].shape[1::-1]),
                                  (cx, cy), side, 48, flip)
            diff = np.abs(raw.astype(int) - true_bg).max(-1)
            person, static = diff > 60, diff == 0
            same = (out[k] == raw).all(-1)
            kept.append(same[person].mean())
            if mode == 'remove':
                replaced.append((out[k][static] == ds.fill_value).all(-1).mean())
            else:
                sub = crop_square(ds.clips.background(frame.sequence)[0][
                    plan['substitute_views'][k]], (cx, cy), side, 48, flip)
                replaced.append((out[k] == sub).all(-1)[static].mean())
        if len(kept) >= 12:
            break
    return np.mean(kept), np.mean(replaced)


def test_background_removal_keeps_the_person_and_removes_the_static_background():
    kept, removed = _check_background(_pairs(background='remove', fill='constant'), 'remove')
    assert kept > 0.85 and removed > 0.95
    kept, replaced = _check_background(_pairs(background='substitute'), 'substitute')
    assert kept > 0.85 and replaced > 0.95


def test_background_modes_mix_half_and_half_and_switch_off():
    modes = [it['data_samples'].metainfo['background'] for it in _items(_pairs(), 24)]
    assert 6 <= modes.count('remove') <= 18 and modes.count('substitute') == 24 - \
        modes.count('remove')
    ds = _pairs(background='none')
    plan = ds.plan(3, np.random.default_rng(5))
    frame = ds.clips.frame(plan['frames'][0])
    cx, cy, side = ds.clips.square(plan['boxes'][0])
    raw = crop_square(frame.images[plan['views'][0]], (cx, cy), side, 48,
                      plan['flip_side'] == 0)
    assert np.array_equal(ds.render(plan)[0], raw)
    with pytest.raises(ValueError, match='background must be one of'):
        _pairs(background='blur')


def test_masked_bce_ignores_unlabelled_pairs():
    logits = torch.tensor([2.0, -1.0, 5.0], requires_grad=True)
    loss = masked_bce(logits, torch.tensor([1, -1, 0]))
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor([2.0, 5.0]), torch.tensor([1.0, 0.0]))
    assert torch.allclose(loss, ref)
    loss.backward()
    assert logits.grad[1] == 0
    assert masked_bce(logits, torch.tensor([-1, -1, -1])).item() == 0


def test_net_overfits_eight_pairs():
    init_default_scope('mmpose')
    ds = _pairs(crop_size=64, num_samples=8)
    batch = pseudo_collate([ds[i] for i in range(8)])
    torch.manual_seed(0)
    net = SyncFlipNet(backbone=dict(type='ResNet', depth=18))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    history = []
    for _ in range(30):
        losses = net(**net.data_preprocessor(batch, True), mode='loss')
        loss = losses['loss_sync'] + losses['loss_flip']
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert history[-1] < 0.2 * history[0], history
    # predictions with the batch statistics the 30 steps trained with: BatchNorm's running
    # averages of so few steps are not yet those statistics (eval mode would test them)
    with torch.no_grad():
        out = net(**net.data_preprocessor(batch, False), mode='predict')
    for s in out:
        for t in ('sync', 'flip'):
            y, p = int(getattr(s, f'gt_{t}')), float(getattr(s, f'pred_{t}'))
            assert 0 <= p <= 1
            if y >= 0:
                assert (p > 0.5) == (y == 1)


def test_accuracy_metric_on_a_handmade_batch():
    metric = PretextAccuracy()
    rows = [(1, 0.9, 0, 0.2), (1, 0.4, 1, 0.7), (0, 0.1, -1, 0.9), (0, 0.6, -1, 0.1),
            (-1, 0.9, 1, 0.3), (0, 0.2, -1, 0.5)]
    samples = []
    for gs, ps, gf, pf in rows:
        s = BaseDataElement()
        s.gt_sync, s.pred_sync = torch.tensor(gs), torch.tensor(ps)
        s.gt_flip, s.pred_flip = torch.tensor(gf), torch.tensor(pf)
        samples.append(s.to_dict() if gs == 0 else s)  # both forms are read
    metric.process({}, samples)
    out = metric.compute_metrics(metric.results)
    # sync: 5 labelled (0.9✓ 0.4✗ 0.1✓ 0.6✗ 0.2✓); flip: 3 labelled (0.2✓ 0.7✓ 0.3✗)
    assert out['sync_acc'] == pytest.approx(60.0) and out['sync_count'] == 5
    assert out['sync_pos_acc'] == pytest.approx(50.0)
    assert out['sync_neg_acc'] == pytest.approx(100 * 2 / 3)
    assert out['flip_acc'] == pytest.approx(100 * 2 / 3) and out['flip_count'] == 3
    assert out['flip_pos_acc'] == pytest.approx(50.0) and out['flip_neg_acc'] == 100.0


TINY = ['train_cfg.max_iters=3', 'train_cfg.val_interval=3',
        'default_hooks.checkpoint.interval=3', 'default_hooks.logger.interval=1',
        'param_scheduler.1.end=3', 'param_scheduler.1.T_max=3', 'log_level=WARNING',
        'model.backbone.depth=18']
for split in ('train', 'val', 'test'):
    TINY += [f'{split}_dataloader.batch_size=4', f'{split}_dataloader.num_workers=0',
             f'{split}_dataloader.persistent_workers=False',
             f'{split}_dataloader.dataset.num_samples=8',
             f'{split}_dataloader.dataset.crop_size=64',
             f'{split}_dataloader.dataset.clips.background_frames=8',
             f'{split}_dataloader.dataset.dataset.num_samples=20',
             f'{split}_dataloader.dataset.dataset.frames_per_sequence=20',
             f'{split}_dataloader.dataset.dataset.rig.num_views=3',
             f'{split}_dataloader.dataset.dataset.rig.image_size=(320,180)']


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    """Three iterations + a validation of configs/pretext/sync_flip_synthetic.py through
    tools/train.py (in process)."""
    work = tmp_path_factory.mktemp('sync_flip')
    train = load_tool('train')
    argv = sys.argv
    sys.argv = ['train.py', CONFIG, '--work-dir', str(work), '--cfg-options', *TINY]
    try:
        train.main()
    finally:
        sys.argv = argv
    return work


def test_train_tool_runs_a_few_iterations(tiny_run):
    assert osp.isfile(tiny_run / 'iter_3.pth')
    best = list(tiny_run.glob('best_pretext_sync_acc_iter_3.pth'))
    assert best  # the validation ran and reported pretext/sync_acc


def test_backbone_transfers_into_the_image_path_selfpose3d(tiny_run, tmp_path):
    init_default_scope('mmpose')
    ckpt = str(tiny_run / 'iter_3.pth')
    pretext = torch.load(ckpt, map_location='cpu')['state_dict']
    ref = pretext['backbone.conv1.weight']
    extract = load_tool('extract_backbone')
    out = str(tmp_path / 'backbone.pth')
    extract.main([ckpt, out])
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'pretext',
                                   'selfpose3d_images_from_sync.py'))
    cfg.model.heatmap_net_2d.backbone.init_cfg.checkpoint = out
    cfg.model.objective.attention_net.init_cfg.checkpoint = out
    model = MODELS.build(cfg.model)
    assert not torch.equal(model.backbone.conv1.weight, ref)
    model.init_weights()
    assert torch.equal(model.backbone.conv1.weight, ref)
    assert torch.equal(model.objective.attention_net.backbone.conv1.weight, ref)
    key = 'backbone.layer4.1.bn2.running_var'
    assert torch.equal(model.backbone.layer4[1].bn2.running_var, pretext[key])

    both = str(tmp_path / 'both.pth')  # the load_from way
    extract.main([ckpt, both, '--into', 'backbone.', 'objective.attention_net.backbone.'])
    plain = MODELS.build(Config.fromfile(osp.join(
        ROOT, 'configs', 'selfpose3d_synthetic_images.py')).model)
    load_checkpoint(plain, both, map_location='cpu', strict=False)
    assert torch.equal(plain.backbone.conv1.weight, ref)
    assert torch.equal(plain.objective.attention_net.backbone.conv1.weight, ref)

    # the 2D fine-tuning config of the transfer benchmark, with its header's cfg-options
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'pretext', 'heatmap2d_synthetic.py'))
    cfg.merge_from_dict({'model.heatmap_net_2d.backbone.init_cfg.type': 'Pretrained',
                         'model.heatmap_net_2d.backbone.init_cfg.prefix': 'backbone.',
                         'model.heatmap_net_2d.backbone.init_cfg.checkpoint': out})
    assert cfg.val_dataloader is None and cfg.train_cfg.max_epochs == 2
    finetune = MODELS.build(cfg.model)
    finetune.init_weights()
    assert torch.equal(finetune.backbone.conv1.weight, ref)
    assert finetune.head_2d.deconv_layers[0].out_channels == 128


POSE2SIM = FIXTURES / 'pose2sim' / 'multiperson_videos'


@pytest.mark.skipif(not POSE2SIM.is_dir(), reason='Pose2Sim fixture absent')
def test_a_few_iterations_on_real_pose2sim_videos(tmp_path):
    """configs/pretext/sync_flip_custom_rig.py on Pose2Sim's 4 synchronized videos, no
    label of any kind: crops from the foreground of the median background."""
    from selfpose3d_mm.apis.config_links import apply_linked_settings
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'pretext', 'sync_flip_custom_rig.py'))
    cfg.merge_from_dict({
        'data_root': str(POSE2SIM), 'calibration': 'calibration/Calib.qca.txt',
        'videos': 'videos/{view}.mp4', 'train_frame_range': (0, 40), 'interval': 4,
        'frame_scale': 0.125, 'work_dir': str(tmp_path), 'log_level': 'WARNING',
        'train_cfg.max_iters': 2, 'train_cfg.val_interval': 100,
        'param_scheduler.1.end': 2, 'param_scheduler.1.T_max': 2,
        'train_dataloader.batch_size': 2, 'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.num_samples': 4,
        'train_dataloader.dataset.crop_size': 64,
        'train_dataloader.dataset.clips.background_frames': 5,
        'default_hooks.checkpoint.interval': 2, 'default_hooks.logger.interval': 1})
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg = apply_linked_settings(cfg)
    assert cfg.train_dataloader.dataset.dataset.data_root == str(POSE2SIM)
    runner = Runner.from_cfg(cfg)
    runner.train()
    logs = runner.message_hub.log_scalars
    assert np.isfinite(logs['train/loss'].current())
    clips = runner.train_dataloader.dataset.clips
    assert clips.people(clips.frame(0), 0)['source'] == 'foreground'  # no pose at all
    assert osp.isfile(tmp_path / 'iter_2.pth')
