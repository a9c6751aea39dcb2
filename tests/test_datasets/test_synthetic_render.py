"""Image rendering of the synthetic world (shaded limb capsules over a studio)."""
import time

import numpy as np
import pytest

from selfpose3d_mm.datasets.synthetic.render import (RENDER_DEFAULTS, render_background,
                                                    render_views)

F = 300.0
SIZE = (320, 240)
_HALF = np.array([[0.12, -0.33], [0.16, -0.15], [0.17, 0.02],
                  [0.07, 0.0], [0.08, 0.25], [0.08, 0.5]])
TEMPLATE = np.concatenate([[[0.0, -0.35], [0.0, -0.45], [0.0, 0.0]], _HALF,
                           _HALF * [-1.0, 1.0]])
RED, BLUE = (220, 30, 30), (30, 30, 220)


def scene(people, views=1, size=SIZE, f=F):
    """[(cx, cy, z), ...] -> (C, P, J, 2) pixels, (C, P, J) depths, sizes, focals."""
    uv = np.stack([TEMPLATE * (f * 1700.0 / z) + [cx, cy] for cx, cy, z in people])
    z = np.stack([np.full(15, float(p[2])) for p in people])
    return (np.broadcast_to(uv, (views,) + uv.shape).copy(),
            np.broadcast_to(z, (views,) + z.shape).copy(), np.tile(size, (views, 1)),
            np.full(views, f))


def test_shapes_and_background():
    uv, z, _, f = scene([(100, 120, 3000)], views=2)
    sizes = np.array([[320, 240], [200, 150]])
    uv[1] *= 0.6
    imgs = render_views(np.random.default_rng(0), uv, z, sizes, f)
    assert len(imgs) == 2
    assert imgs[0].shape == (240, 320, 3) and imgs[1].shape == (150, 200, 3)
    assert all(im.dtype == np.uint8 for im in imgs)
    for c, im in enumerate(imgs):
        bg = render_background(0, c, tuple(sizes[c]))
        assert bg.shape == im.shape and not bg.flags.writeable
        # far from the person the image is the background; on the person it is not
        np.testing.assert_array_equal(im[:, -40:], bg[:, -40:])
        y, x = np.round(uv[c, 0, 2, ::-1]).astype(int)
        assert np.abs(im[y, x].astype(int) - bg[y, x]).sum() > 30
    # a textured background: not flat, and brighter towards the floor
    bg = render_background(0, 0, SIZE).astype(float)
    assert bg.std() > 5 and bg[-20:].mean() > bg[:20].mean()


@pytest.mark.parametrize('red_first', [True, False])
def test_near_person_wins(red_first):
    near, far = (160, 120, 2500), (160, 120, 4000)
    uv, z, sizes, f = scene([near, far] if red_first else [far, near])
    uv[0, 1 if red_first else 0] = uv[0, 0 if red_first else 1]  # the same pixels
    for near_color, far_color in ((RED, BLUE), (BLUE, RED)):
        colors = np.array([near_color, far_color] if red_first else [far_color, near_color],
                          np.uint8)
        im = render_views(np.random.default_rng(0), uv, z, sizes, f, person_colors=colors)[0]
        # on the torso line (neck -> mid-hip) the near person's colour dominates
        for t in (0.3, 0.5, 0.7):
            x, y = np.round(uv[0, 0, 0] + t * (uv[0, 0, 2] - uv[0, 0, 0])).astype(int)
            px = im[y, x].astype(int)
            ch_near, ch_far = (0, 2) if near_color == RED else (2, 0)
            assert px[ch_near] > px[ch_far] + 60


def test_limb_ordering_between_people():
    # A's arm crosses in front of B's torso; B's torso is drawn over A's other limbs
    uv, z, sizes, f = scene([(120, 120, 3000), (180, 120, 3500)])
    mid = (uv[0, 1, 0] + uv[0, 1, 2]) / 2
    uv[0, 0, 10:12] = [mid + [-40, 0], mid + [40, 0]]       # A's right forearm, horizontal
    im = render_views(np.random.default_rng(0), uv, z, sizes, f,
                      person_colors=np.array([RED, BLUE], np.uint8))[0]
    x, y = np.round(mid).astype(int)
    assert im[y, x, 0] > im[y, x, 2] + 60
    z[0, 0, 10:12] = 5000.0                                   # the forearm goes behind B
    im = render_views(np.random.default_rng(0), uv, z, sizes, f,
                      person_colors=np.array([RED, BLUE], np.uint8))[0]
    assert im[y, x, 2] > im[y, x, 0] + 60


def test_behind_camera_and_degenerate_input():
    uv, z, sizes, f = scene([(160, 120, 3000)])
    bg = render_background(3, 0, SIZE)
    im = render_views(np.random.default_rng(0), uv, -z, sizes, f, background_seed=3)[0]
    np.testing.assert_array_equal(im, bg)
    uv[0, 0, 3] = np.nan
    uv[0, 0, 5] = 1e12
    im = render_views(np.random.default_rng(0), uv, z, sizes, f, background_seed=3)[0]
    assert im.shape == (240, 320, 3)
    empty = render_views(np.random.default_rng(0), np.zeros((1, 0, 15, 2)),
                         np.zeros((1, 0, 15)), sizes, f, background_seed=3)[0]
    np.testing.assert_array_equal(empty, bg)


def test_determinism_and_knobs():
    uv, z, sizes, f = scene([(100, 120, 3000), (220, 130, 5000)], views=2)
    a = render_views(np.random.default_rng(0), uv, z, sizes, f, background_seed=1)
    b = render_views(np.random.default_rng(9), uv, z, sizes, f, background_seed=1)
    c = render_views(np.random.default_rng(0), uv, z, sizes, f, background_seed=2)
    for x, y, w in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
        assert not np.array_equal(x, w)
    assert not np.array_equal(a[0], a[1])  # each view has its own background
    n1 = render_views(np.random.default_rng(4), uv, z, sizes, f, sensor_noise=3.0)
    n2 = render_views(np.random.default_rng(4), uv, z, sizes, f, sensor_noise=3.0)
    np.testing.assert_array_equal(n1[0], n2[0])
    assert not np.array_equal(n1[0], render_views(np.random.default_rng(0), uv, z, sizes,
                                                  f)[0])
    with pytest.raises(ValueError, match='shadng_steps'):
        render_views(np.random.default_rng(0), uv, z, sizes, f, shadng_steps=2)
    with pytest.raises(ValueError, match='person_colors'):
        render_views(np.random.default_rng(0), uv, z, sizes, f,
                     person_colors=np.zeros((3, 3), np.uint8))
    assert set(RENDER_DEFAULTS) >= {'limb_radius_mm', 'head_radius_mm', 'shading_steps'}


def test_shading_and_head():
    uv, z, sizes, f = scene([(160, 120, 2000)])
    im = render_views(np.random.default_rng(0), uv, z, sizes, f,
                      person_colors=np.array([[100, 160, 60]], np.uint8))[0].astype(int)
    # brighter core, darker rim across the torso capsule
    neck, hip = uv[0, 0, 0], uv[0, 0, 2]
    x, y = np.round((neck + hip) / 2).astype(int)
    r = 120.0 * F / 2000.0
    core, rim = im[y, x].sum(), im[y, int(round(x + 0.9 * r))].sum()
    assert core > rim + 60
    # the head is a disc around the nose, wider than the neck-nose capsule (90 mm)
    nx, ny = np.round(uv[0, 0, 1]).astype(int)
    x = nx - int(round(0.95 * 110.0 * F / 2000.0))
    bg = render_background(0, 0, SIZE)[ny, x].astype(int)
    assert np.abs(im[ny, x] - bg).sum() > 30
    no_head = render_views(np.random.default_rng(0), uv, z, sizes, f, head_joint=None)[0]
    np.testing.assert_array_equal(no_head[ny, x], bg)


def test_speed_full_hd():
    rng = np.random.default_rng(0)
    people = [(rng.uniform(200, 1700), rng.uniform(300, 800), rng.uniform(2500, 8000))
              for _ in range(10)]
    uv, z, sizes, f = scene(people, views=5, size=(1920, 1080), f=1400.0)
    render_views(rng, uv, z, sizes, f, background_seed=11)  # builds the cached backgrounds
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        imgs = render_views(rng, uv, z, sizes, f, background_seed=11)
        times.append(time.perf_counter() - t0)
    assert imgs[0].shape == (1080, 1920, 3)
    assert min(times) < 0.3  # ~35 ms on one core; slack for loaded CI machines
