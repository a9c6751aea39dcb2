"""Anatomically plausible, smoothly moving 15-joint people (mmpose ``panoptic_body3d``).

Joint order: 0 neck, 1 nose, 2 mid-hip (root), 3-5 left shoulder/elbow/wrist, 6-8 left
hip/knee/ankle, 9-11 right arm, 12-14 right leg. World frame: millimetres, z up, floor at
z = 0 (``space_center[2]`` is ignored: people stand on the floor).

A person is a height plus bone lengths (anthropometric ratios with per-bone variation
and a little left/right asymmetry) posed by forward kinematics from the root: torso
lean/side-lean/twist, head yaw/pitch, shoulder flexion/abduction/rotation, elbow flexion,
hip flexion/abduction and knee flexion, each clamped to joint limits. Postures blend
standing, walking (gait phase tied to the distance walked), holding/gesturing, arms
raised and crouching (bending over / sitting / squatting), driven by smooth closed-form
processes (:mod:`.motion`). The root height puts the lower ankle at the person's ankle
height above the floor, so crouching lowers the root consistently with the legs.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from selfpose3d_mm.skeleton import PANOPTIC15_NAMES, PANOPTIC15_ROOT_INDEX, side_pair
from selfpose3d_mm.utils import merge_knobs
from .motion import (ActivityWarp, SmoothNoise, WanderPaths, place_anchors, soft_clip,
                     soft_floor, switch, to_unit)

__all__ = ['BODY_DEFAULTS', 'BONE_NAMES', 'JOINT_LIMITS_DEG', 'PeopleSequence']

BONE_NAMES = ('neck_nose', 'torso', 'shoulder', 'upper_arm', 'forearm', 'hip', 'thigh',
              'shin')
# where forward kinematics writes its joints (the root, the mid-hip, is the origin)
_NECK, _NOSE = PANOPTIC15_NAMES.index('neck'), PANOPTIC15_NAMES.index('nose')
_LEFT_RIGHT = {part: list(side_pair(PANOPTIC15_NAMES, part))
               for part in ('shoulder', 'elbow', 'wrist', 'hip', 'knee', 'ankle')}
# limb index (of selfpose3d_mm.skeleton.PANOPTIC15_LIMBS) -> bone name
_LIMB_BONE = (0, 1, 2, 3, 4, 2, 3, 4, 5, 5, 6, 7, 6, 7)
_PAIRED = np.array([False, False, True, True, True, True, True, True])

BODY_DEFAULTS = dict(
    # --- shape ---
    height_mean=1710.0,          # mm, stature (truncated normal)
    height_std=95.0,             # mm
    height_range=(1500.0, 1950.0),  # mm, truncation of the stature
    # bone length / stature; Panoptic joints: neck = base of the neck between the
    # shoulders, shoulder/hip = half widths from neck/mid-hip, nose from the neck
    bone_ratios=dict(neck_nose=0.118, torso=0.290, shoulder=0.094, upper_arm=0.166,
                     forearm=0.142, hip=0.060, thigh=0.245, shin=0.226),
    # relative std per bone (normal factor clipped at 2.5 std); wide enough to cover
    # real proportions and the joint-placement noise of marker-less reconstructions
    bone_std=dict(neck_nose=0.08, torso=0.085, shoulder=0.09, upper_arm=0.06,
                  forearm=0.08, hip=0.11, thigh=0.06, shin=0.06),
    asymmetry_std=0.02,          # relative left/right length difference (std)
    ankle_height=(60.0, 110.0),  # mm, ankle joint above the floor when standing (uniform)
    nose_angle_deg=(25.0, 45.0),  # neutral neck->nose angle from the torso axis (uniform)
    shoulder_drop_deg=(0.0, 15.0),  # neck->shoulder angle below the torso's horizontal
    # --- placement (mm) ---
    body_radius=300.0,           # roots stay >= 2x apart and this far inside the box
    min_wander_radius=150.0,     # preferred minimum wander radius around an anchor
    max_wander_radius=1500.0,    # cap of the wander radius inside the space
    outside_range=(300.0, 2000.0),  # bystanders: distance beyond the box edge
    max_wander_outside=400.0,    # cap of a bystander's wander radius
    # --- locomotion ---
    walk_speed=(0.9, 1.5),       # m/s, top speed of a person (uniform), <= speed_max
    speed_max=1.5,               # m/s, hard cap of the horizontal root speed
    max_turn_rate_deg=120.0,     # deg/s, bound on the loop's angular rate (small spaces
                                 # make people walk slower rather than spin)
    activity_bias=(-0.5, 0.5),   # walking propensity (-1 always standing .. 1 always walking)
    activity_period=(8.0, 40.0),  # s, periods of the stand/walk alternation
    gait_speed_ref=1.2,          # m/s, speed at which the gait amplitude is tanh(1)
    stride_ratio=0.8,            # gait cycle (two steps) length / stature
    hip_swing_deg=22.0,          # gait hip flexion amplitude at full activity (about +8)
    knee_swing_deg=60.0,         # gait extra knee flexion (swing phase) at full activity
    arm_swing_deg=25.0,          # gait shoulder flexion amplitude at full activity
    heading_jitter_deg=(5.0, 30.0),  # std of the facing offset from the walking direction
                                     # (while walking, while standing)
    # --- postures (fraction of time, roughly) ---
    crouch_prob=0.25,            # bending over / sitting / squatting (while not walking)
    hold_prob=0.3,               # elbow(s) flexed in front (holding, gesturing)
    reach_prob=0.15,             # arm(s) raised (forward, sideways or overhead)
    posture_period=(8.0, 40.0),  # s, periods of the slow posture processes
    limb_period=(2.0, 12.0),     # s, periods of the arm/head/leg fluctuations
    # --- joint limits (deg) ---
    elbow_max_deg=150.0,         # elbow flexion limit (0 = straight arm)
    knee_max_deg=140.0,          # knee flexion limit (0 = straight leg)
)

# Joint limits (low, high) in degrees ('nose': neck->nose angle from the torso axis; the
# knee/elbow upper limits are knobs). They are applied after blending as soft limits with
# _SOFT_DEG wide corners, hard only at the 0 deg knee/elbow floors, which the postures
# approach through soft floors of their own.
_SOFT_DEG = 6.0
JOINT_LIMITS_DEG = dict(lean=(-20.0, 90.0), side_lean=(-20.0, 20.0), twist=(-45.0, 45.0),
                        head_yaw=(-75.0, 75.0), nose=(5.0, 90.0),
                        shoulder_flex=(-50.0, 180.0), shoulder_abd=(0.0, 170.0),
                        shoulder_rot=(-40.0, 80.0), elbow=(0.0, None),
                        hip_flex=(-30.0, 125.0), hip_abd=(-5.0, 45.0), knee=(0.0, None))

_RANGE_KNOBS = ('height_range', 'ankle_height', 'nose_angle_deg', 'shoulder_drop_deg',
                'outside_range', 'walk_speed', 'activity_bias', 'activity_period',
                'posture_period', 'limb_period')

# The smooth processes (name, band); '*' entries come as a left/right pair.
_PROC = (('crouch', 'p'), ('style', 'p'), ('crouch_hip', 'l'), ('crouch_knee', 'l'),
         ('lean', 'p'), ('lean_c', 'l'), ('side', 'l'), ('twist', 'l'), ('yaw', 'l'),
         ('pitch', 'l'), ('heading', 'p'), ('abd_c', 'p'), ('raise_b', 'p'),
         ('hip*', 'l'), ('knee*', 'l'), ('abd*', 'l'), ('raise*', 'p'), ('rstyle*', 'p'),
         ('hold*', 'p'), ('sflex*', 'l'), ('sabd*', 'l'), ('srot*', 'l'), ('elbow*', 'l'))
_IDX, _BANDS = {}, []
for _name, _band in _PROC:
    if _name.endswith('*'):
        _IDX[_name[:-1]] = [len(_BANDS), len(_BANDS) + 1]
        _BANDS += [_band, _band]
    else:
        _IDX[_name] = len(_BANDS)
        _BANDS.append(_band)


def _resolve_knobs(knobs: dict) -> dict:
    k = merge_knobs(BODY_DEFAULTS, knobs, 'PeopleSequence')
    for name in ('bone_ratios', 'bone_std'):
        bad = sorted(set(knobs.get(name, {})) - set(BONE_NAMES))
        if bad:
            raise ValueError(f'{name}: unknown bone(s) {bad}; valid: {list(BONE_NAMES)}')
        k[name] = {**BODY_DEFAULTS[name], **knobs.get(name, {})}
    for name in _RANGE_KNOBS:
        v = k[name]
        if len(v) != 2 or not v[0] <= v[1]:
            raise ValueError(f'body knob {name} must be (low, high) with low <= high, got {v}')
    return k


def _rot(axis: int, a: np.ndarray) -> np.ndarray:
    """Rotations about x (0), y (1) or z (2) by angles a (...) rad -> (..., 3, 3)."""
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(a.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    R[..., axis, axis] = 1.0
    R[..., i, i], R[..., j, j], R[..., i, j], R[..., j, i] = c, c, -s, s
    return R


class PeopleSequence:
    """P people moving smoothly in a capture space; any time ``t`` is computed in closed
    form (no integration from t = 0), so frame k of a sequence is random-access and
    deterministic.

    Args:
        rng: random generator, consumed at construction only (people, paths, processes).
        num_people: people inside the capture space.
        space_center: (3,) mm centre of the capture space (only x, y are used).
        space_size: (3,) mm size of the capture space (only x, y are used).
        num_outside: bystanders standing/wandering ``outside_range`` beyond the box edge.
        **knobs: overrides of :data:`BODY_DEFAULTS` (unknown names raise ``ValueError``).

    Attributes:
        inside: (P_total,) bool, False for the bystanders (which come last).
        bone_lengths: (P_total, 14) mm, per limb of
            :data:`selfpose3d_mm.skeleton.PANOPTIC15_LIMBS`.
        heights: (P_total,) mm statures.
        ankle_height: (P_total,) mm height of the lower ankle above the floor.
        anchors: (P_total, 2) mm; wander_radius: (P_total,) mm (roots stay within it).
    """

    def __init__(self, rng: np.random.Generator, num_people: int, space_center: Sequence[float],
                 space_size: Sequence[float], num_outside: int = 0, **knobs):
        k = self.knobs = _resolve_knobs(knobs)
        P = int(num_people) + int(num_outside)
        self.inside = np.arange(P) < int(num_people)
        # --- shape ---
        lo, hi = k['height_range']
        self.heights = np.clip(rng.normal(k['height_mean'], k['height_std'], P), lo, hi)
        ratio = np.array([k['bone_ratios'][b] for b in BONE_NAMES])
        std = np.array([k['bone_std'][b] for b in BONE_NAMES])
        factor = 1 + std * np.clip(rng.standard_normal((P, len(BONE_NAMES))), -2.5, 2.5)
        asym = 1 + k['asymmetry_std'] * np.clip(rng.standard_normal((P, 8)), -2.5, 2.5) / 2
        bones = self.heights[:, None] * ratio * factor                # (P, 8)
        left = bones * np.where(_PAIRED, asym, 1.0)
        right = bones * np.where(_PAIRED, 1.0 / asym, 1.0)
        self._bones = np.stack([left, right], 1)                      # (P, 2 sides, 8)
        lim = np.asarray(_LIMB_BONE)
        side = np.array([0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 1])
        self.bone_lengths = self._bones[:, side, lim]                 # (P, 14)
        self.ankle_height = rng.uniform(*k['ankle_height'], P)
        self._nose0 = np.deg2rad(rng.uniform(*k['nose_angle_deg'], P))
        self._drop = np.deg2rad(rng.uniform(*k['shoulder_drop_deg'], P))
        # --- placement and paths ---
        c, s = np.asarray(space_center, np.float64), np.asarray(space_size, np.float64)
        self.anchors, self.wander_radius = place_anchors(
            rng, int(num_people), int(num_outside), c[:2], s[:2], k['body_radius'],
            k['min_wander_radius'], k['max_wander_radius'], k['outside_range'],
            k['max_wander_outside'])
        top = np.minimum(rng.uniform(*k['walk_speed'], P), k['speed_max']) * 1000.0
        self._paths = WanderPaths(rng, self.wander_radius, top,
                                  np.deg2rad(k['max_turn_rate_deg']))
        self._activity = ActivityWarp(rng, P, k['activity_bias'], k['activity_period'])
        self._stride = k['stride_ratio'] * self.heights
        self._phase0 = rng.uniform(0, 2 * np.pi, P)
        # --- posture processes and personal style offsets ---
        bands = np.array([k['posture_period'] if b == 'p' else k['limb_period']
                          for b in _BANDS])
        self._noise = SmoothNoise(rng, P, bands)
        self._bias = rng.normal(0.0, 0.35, (P, len(_BANDS)))

    # ------------------------------------------------------------------------------
    def _angles(self, t: np.ndarray):
        """Root xy (T, P, 2) mm, heading and joint angles (rad) at times t (T,), each
        (T, P) or (T, P, 2 sides); also the crouch/style/gait-activity weights (T, P)."""
        k = self.knobs
        g, tau = self._activity(t)
        deriv = self._paths.derivative(tau)                            # (T, P, 2)
        root_xy = self.anchors + self._paths.position(tau)
        speed = np.linalg.norm(deriv, axis=-1) * g / 1000.0            # m/s
        a = np.tanh(speed / k['gait_speed_ref'])                       # gait activity
        phase = 2 * np.pi * self._paths.arclength(tau) / self._stride + self._phase0
        N = self._noise(t)                                             # (T, P, D)
        U = to_unit(N, self._bias)
        n = lambda name: N[..., _IDX[name]]                            # noqa: E731
        u = lambda name: U[..., _IDX[name]]                            # noqa: E731
        d2r = np.pi / 180.0
        still = 1.0 - a
        jit_w, jit_s = k['heading_jitter_deg']
        heading = (np.arctan2(deriv[..., 1], deriv[..., 0])
                   + d2r * (jit_w + (jit_s - jit_w) * still) * n('heading'))
        # crouch amount (never while walking) and its style: bend over / sit / squat
        c = switch(u('crouch'), k['crouch_prob'], 0.4) * still ** 2
        st = u('style')
        wb, ws, wq = (1 - st) ** 2, 2 * st * (1 - st), st ** 2
        c_hip = 5 * wb + 85 * ws + 100 * wq + 15 * n('crouch_hip')
        c_knee = 10 * wb + 95 * ws + 130 * wq + 15 * n('crouch_knee')
        c_lean = 70 * wb + 15 * ws + 35 * wq + 15 * n('lean_c')
        sides = np.array([0.0, np.pi])                                  # left, right
        gait = np.sin(phase[..., None] + sides)                         # (T, P, 2)
        bump = (0.5 * (1 + np.cos(phase[..., None] + sides - 0.3))) ** 4
        hip = (1 - c[..., None]) * (3 + 4 * N[..., _IDX['hip']]
                                    + a[..., None] * (8 + k['hip_swing_deg'] * gait)) \
            + c[..., None] * c_hip[..., None]
        # the stance knee rests on a soft floor, so the swing bump lands smoothly on it
        # instead of slamming into the 0 deg limit at heel strike
        knee = (1 - c[..., None]) * (soft_floor(5 + 7 * N[..., _IDX['knee']], 4.0)
                                     + k['knee_swing_deg'] * a[..., None] * bump) \
            + c[..., None] * (c_knee[..., None] + 6 * N[..., _IDX['knee']])
        hip_abd = 4 + 3 * n('abd_c')[..., None] + 2.5 * N[..., _IDX['abd']] \
            + c[..., None] * (8 + 6 * N[..., _IDX['abd']])
        lean = (1 - c) * (6 + 5 * n('lean') + 5 * a) + c * c_lean
        side_lean = 4 * n('side')
        twist = 15 * n('twist') + 6 * a * np.sin(phase)
        yaw = 30 * n('yaw')
        nose = self._nose0 / d2r + 5 + 12 * n('pitch') - 0.4 * lean
        # arms: relaxed / holding / raised, plus the gait swing
        # both arms often go up together: mix a shared and a per-arm process (unit variance)
        ur = to_unit(0.8 * n('raise_b')[..., None] + 0.6 * N[..., _IDX['raise']],
                   self._bias[:, _IDX['raise']])
        w_raise = switch(ur, k['reach_prob'], 0.3)
        w_hold = switch(U[..., _IDX['hold']], k['hold_prob'], 0.3) * (1 - w_raise)
        w_rel = 1 - w_raise - w_hold
        nf, na = N[..., _IDX['sflex']], N[..., _IDX['sabd']]
        nr, ne = N[..., _IDX['srot']], N[..., _IDX['elbow']]
        rs = U[..., _IDX['rstyle']]                                     # forward .. sideways
        sflex = (w_rel * (5 + 12 * nf) + w_hold * (35 + 20 * nf)
                 + w_raise * ((1 - rs) * (140 + 30 * nf) + rs * (30 + 15 * nf))
                 - k['arm_swing_deg'] * (a[..., None] * gait) * (1 - w_raise - 0.5 * w_hold))
        sabd = (w_rel * (10 + 5 * na) + w_hold * (20 + 10 * na)
                + w_raise * ((1 - rs) * (15 + 10 * na) + rs * (120 + 35 * na)))
        srot = w_rel * 15 * nr + w_hold * (-15 + 15 * nr) + w_raise * (20 + 25 * nr)
        elbow = soft_floor(w_rel * (20 + 15 * ne) + w_hold * (95 + 25 * ne)
                            + w_raise * (30 + 35 * ne), 4.0)
        L = JOINT_LIMITS_DEG
        # chest against thighs: torso-thigh angle (180 - lean - hip flexion) >= 30 deg
        hip = soft_clip(hip, -np.inf, 150.0 - np.clip(lean, *L['lean'])[..., None], _SOFT_DEG)

        def clip(x, name, hi=None, eps_lo=_SOFT_DEG):
            hi = L[name][1] if hi is None else hi
            return d2r * soft_clip(x, L[name][0], hi, _SOFT_DEG, eps_lo)
        return dict(
            root_xy=root_xy, heading=heading, crouch=c, style=st, activity=a,
            lean=clip(lean, 'lean'), side=clip(side_lean, 'side_lean'),
            twist=clip(twist, 'twist'), yaw=clip(yaw, 'head_yaw'), nose=clip(nose, 'nose'),
            sflex=clip(sflex, 'shoulder_flex'), sabd=clip(sabd, 'shoulder_abd'),
            srot=clip(srot, 'shoulder_rot'),
            elbow=clip(elbow, 'elbow', k['elbow_max_deg'], eps_lo=0.0),
            hip=clip(hip, 'hip_flex'), hip_abd=clip(hip_abd, 'hip_abd'),
            knee=clip(knee, 'knee', k['knee_max_deg'], eps_lo=0.0))

    def joints(self, t) -> np.ndarray:
        """Joint positions at times t.

        Args:
            t: (T,) seconds (a scalar counts as T = 1).

        Returns:
            (T, P_total, 15, 3) float64 world mm.
        """
        t = np.asarray(t, np.float64).reshape(-1)
        ang = self._angles(t)
        T, P = t.shape[0], self.inside.shape[0]
        b = self._bones                                                # (P, 2, 8)
        sgn = np.array([1.0, -1.0])                                    # left, right
        # torso frame in the heading frame (x forward, y left, z up)
        Rt = _rot(2, ang['twist']) @ _rot(1, ang['lean']) @ _rot(0, ang['side'])
        neck = Rt[..., 2] * b[:, 0, 1, None]                           # (T, P, 3)
        yaw, th = ang['yaw'], ang['nose']
        head_dir = np.stack([np.cos(yaw) * np.sin(th), np.sin(yaw) * np.sin(th), np.cos(th)], -1)
        nose = neck + np.einsum('tpij,tpj->tpi', Rt, head_dir) * b[:, 0, 0, None]
        drop = self._drop[:, None]
        sh_off = np.stack([np.zeros((P, 2)), sgn * np.cos(drop), -np.sin(drop)
                           * np.ones(2)], -1) * b[:, :, 2, None]       # (P, 2, 3)
        shoulder = neck[:, :, None] + np.einsum('tpij,psj->tpsi', Rt, sh_off)
        Ra = Rt[:, :, None] @ _rot(0, sgn * ang['sabd']) @ _rot(1, -ang['sflex'])
        elbow = shoulder - Ra[..., 2] * b[:, :, 3, None]
        fe, rot = ang['elbow'], ang['srot']
        fore = np.stack([np.sin(fe) * np.cos(rot), sgn * np.sin(fe) * np.sin(rot), -np.cos(fe)], -1)
        wrist = elbow + np.einsum('tpsij,tpsj->tpsi', Ra, fore) * b[:, :, 4, None]
        # legs hang from the pelvis, which keeps the heading (no pelvic tilt)
        hip = np.stack([np.zeros((P, 2)), sgn * b[:, :, 5], np.zeros((P, 2))], -1)
        Rl = _rot(0, sgn * ang['hip_abd']) @ _rot(1, -ang['hip'])
        knee = hip - Rl[..., 2] * b[:, :, 6, None]
        kf = ang['knee']
        shin = np.stack([-np.sin(kf), np.zeros_like(kf), -np.cos(kf)], -1)
        ankle = knee + np.einsum('tpsij,tpsj->tpsi', Rl, shin) * b[:, :, 7, None]
        J = np.empty((T, P, len(PANOPTIC15_NAMES), 3))
        J[:, :, _NECK], J[:, :, _NOSE], J[:, :, PANOPTIC15_ROOT_INDEX] = neck, nose, 0.0
        for part, x in (('shoulder', shoulder), ('elbow', elbow), ('wrist', wrist),
                        ('hip', hip), ('knee', knee), ('ankle', ankle)):
            J[:, :, _LEFT_RIGHT[part]] = x  # x: (T, P, 2 sides, 3)
        # ground contact: a soft minimum (15 mm scale) of the ankles keeps the root height
        # smooth when the support switches legs; the lower ankle ends 0..10 mm above
        # the person's ankle height
        za = ankle[..., 2]
        zmin = za.min(-1)
        soft = zmin - 15.0 * np.log1p(np.exp(-np.abs(za[..., 0] - za[..., 1]) / 15.0))
        root_z = self.ankle_height - soft
        ch, sh = np.cos(ang['heading'])[..., None], np.sin(ang['heading'])[..., None]
        x, y = J[..., 0].copy(), J[..., 1]
        J[..., 0] = ch * x - sh * y + ang['root_xy'][..., None, 0]
        J[..., 1] = sh * x + ch * y + ang['root_xy'][..., None, 1]
        J[..., 2] += root_z[..., None]
        return J
