"""Image affines: conventions against OpenCV, inverses, composition with projection."""
import cv2
import numpy as np
import torch

from selfpose3d_mm.geometry import (apply_affine, compose_affine, heatmap_affine,
                                    identity_affine, invert_affine, resize_affine,
                                    rotation_scale_affine)


def test_rotation_scale_matches_cv2():
    for angle, scale in ((30.0, 1.0), (-45.0, 0.7), (12.5, 1.35)):
        A = rotation_scale_affine(torch.tensor([480., 256.], dtype=torch.float64),
                                  angle, scale)
        ref = cv2.getRotationMatrix2D((480., 256.), angle, scale)
        assert np.allclose(A.numpy(), ref, atol=1e-9)


def test_inverse_and_composition_identity():
    A = rotation_scale_affine(torch.rand(6, 2, dtype=torch.float64) * 500,
                              torch.rand(6, dtype=torch.float64) * 90 - 45,
                              torch.rand(6, dtype=torch.float64) + 0.5)
    eye = identity_affine(6, dtype=torch.float64)
    assert torch.allclose(compose_affine(invert_affine(A), A), eye, atol=1e-10)
    assert torch.allclose(compose_affine(A, invert_affine(A)), eye, atol=1e-10)
    p = torch.rand(6, 11, 2, dtype=torch.float64) * 1000
    assert torch.allclose(apply_affine(apply_affine(p, A), invert_affine(A)), p, atol=1e-9)
    B = resize_affine(torch.tensor([[1920., 1080.]] * 6, dtype=torch.float64), (960, 512))
    assert torch.allclose(apply_affine(p, compose_affine(A, B)),
                          apply_affine(apply_affine(p, B), A), atol=1e-9)


def test_resize_keeps_aspect_and_centres():
    A = resize_affine(torch.tensor([1920., 1080.]), (960, 512))
    s = 512 / 1080
    assert torch.allclose(A[0, 0], torch.tensor(s)) and torch.allclose(A[1, 1], torch.tensor(s))
    # pixel-centre convention: the image centre is ((W-1)/2, (H-1)/2)
    centre = apply_affine(torch.tensor([[959.5, 539.5]]), A)
    assert torch.allclose(centre, torch.tensor([[479.5, 255.5]]), atol=1e-3)
    corners = apply_affine(torch.tensor([[-0.5, -0.5], [1919.5, 1079.5]]), A)
    assert (corners[0, 1] + 0.5).abs() < 1e-3 and (corners[1, 1] - 511.5).abs() < 1e-3  # fills height
    assert corners[0, 0] > 0 and corners[1, 0] < 960  # padded width


def test_affine_agrees_with_warped_image():
    img = np.zeros((300, 400, 3), np.uint8)
    img[120:123, 250:253] = 255  # a bright 3x3 blob centred on (251, 121)
    A = compose_affine(rotation_scale_affine(torch.tensor([160., 128.], dtype=torch.float64),
                                             33.0, 0.8),
                       resize_affine(torch.tensor([400., 300.], dtype=torch.float64),
                                     (320, 256)))
    out = cv2.warpAffine(img, A.numpy(), (320, 256), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(out[..., 0])
    w = out[ys, xs, 0].astype(np.float64)
    centroid = np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])
    expected = apply_affine(torch.tensor([[251., 121.]], dtype=torch.float64), A)[0].numpy()
    assert np.abs(centroid - expected).max() < 0.3


def test_heatmap_affine_is_stride():
    H = heatmap_affine((960, 512), (240, 128))
    assert torch.allclose(apply_affine(torch.tensor([[400., 100.]]), H),
                          torch.tensor([[100., 25.]]))
