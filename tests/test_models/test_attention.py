"""SoftAttentionNet: ResNet + HeatmapHead + sigmoid at the requested heatmap size."""
import pytest
import torch
from mmpose.registry import MODELS

import selfpose3d_mm  # noqa: F401


@pytest.fixture(autouse=True)
def _one_thread():
    """Small CPU convolutions run far faster on one thread (no spin-waiting when the
    cores are shared); restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_image_input_gives_heatmap_size_in_unit_interval_with_gradients():
    net = MODELS.build(dict(type='SoftAttentionNet', in_channels=3, out_channels=15,
                            depth=18))
    x = torch.randn(2, 3, 64, 96, requires_grad=True)
    a = net(x)
    assert a.shape == (2, 15, 16, 24)
    assert torch.all(a > 0) and torch.all(a < 1)
    # head initialised N(0, 0.001): the attention starts at ≈ 0.5, not 1
    assert torch.allclose(a, torch.full_like(a, 0.5), atol=0.05)
    ((a - 1) ** 2).mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for p in (net.head.final_layer.weight, net.backbone.conv1.weight):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    # a requested size that is not H/4 × W/4 is honoured exactly
    assert net(torch.randn(1, 3, 60, 90), output_size=(15, 22)).shape == (1, 15, 15, 22)
    assert net(torch.randn(1, 3, 60, 90)).shape == (1, 15, 15, 22)


def test_heatmap_input_keeps_the_heatmap_size():
    net = MODELS.build(dict(type='SoftAttentionNet', in_channels=15, out_channels=15,
                            depth=18, deconv_out_channels=(32, 32, 32)))
    h = torch.rand(3, 15, 32, 40, requires_grad=True)
    a = net(h)
    assert a.shape == (3, 15, 32, 40)
    assert torch.all(a > 0) and torch.all(a < 1)
    assert net(h, output_size=(16, 30)).shape == (3, 15, 16, 30)
    a.sum().backward()
    assert h.grad.abs().sum() > 0


def test_bad_input_raises():
    net = MODELS.build(dict(type='SoftAttentionNet', deconv_out_channels=(16, 16, 16)))
    with pytest.raises(ValueError, match='input must be'):
        net(torch.rand(1, 15, 32, 32))
    with pytest.raises(ValueError, match='depth'):
        MODELS.build(dict(type='SoftAttentionNet', depth=20))
    with pytest.raises(ValueError, match='base_channels'):
        MODELS.build(dict(type='SoftAttentionNet', base_channels=0))


def test_base_channels_sets_the_backbone_width():
    """The narrow net of the CPU config: every ResNet stage and the head's input are
    scaled by base_channels (stage widths base·(1, 2, 4, 8) for ResNet-18), with the same
    output; about 1/16 of the paper-width backbone's parameters at base 16."""
    narrow = MODELS.build(dict(type='SoftAttentionNet', in_channels=15, base_channels=16,
                               deconv_out_channels=(32, 32, 32)))
    wide = MODELS.build(dict(type='SoftAttentionNet', in_channels=15,
                             deconv_out_channels=(32, 32, 32)))
    assert narrow.backbone.conv1.out_channels == 16
    assert narrow.backbone.layer4[-1].conv2.out_channels == 128
    assert narrow.head.deconv_layers[0].in_channels == 128
    n = sum(p.numel() for p in narrow.backbone.parameters())
    w = sum(p.numel() for p in wide.backbone.parameters())
    assert 12 < w / n < 20
    h = torch.rand(2, 15, 64, 120)
    a = narrow(h)
    assert a.shape == (2, 15, 64, 120) and torch.all((a > 0) & (a < 1))
