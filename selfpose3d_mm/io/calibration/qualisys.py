"""Qualisys QTM calibration export (``*.qca.txt``, an XML file), as Pose2Sim users bring it.

Per camera ``<camera serial=... active=...>`` under ``<calibration><cameras>``:

* ``<fov_video left top right bottom>``: the video's crop of the sensor, inclusive pixel
  bounds: the image is ``(right - left + 1) × (bottom - top + 1)`` px and the principal
  point is shifted by ``(left, top)``;
* ``<transform x y z r11 ... r33>``: the camera position in the world (mm) and a rotation:
  read row by row (``[[r11, r12, r13], ...]``) it maps world directions to Qualisys's
  camera axes, whose camera looks along −z with y up; OpenCV's camera (looking along +z,
  y down) is those axes turned by 180° about x, so ``R = diag(1, −1, −1) M`` and
  ``t = −R (x, y, z)``. (Read column by column, the same numbers are the camera-to-world
  rotation.) On the Pose2Sim demo calibration this puts every camera facing the capture
  volume and triangulates its 2D keypoints consistently; the transposed reading does not;
* ``<intrinsic focalLengthU focalLengthV centerPointU centerPointV skew ...>`` in sensor
  sub-pixels (QTM stores 64 sub-pixels per pixel: ``subpixel=64``) and
  ``radialDistortion1..3`` (k1 k2 k3), ``tangentalDistortion1..2`` (p1 p2) (OpenCV's
  classic model); ``focallength`` (mm) and ``sensorMin/Max`` are not needed.

A video recorded with sensor binning (QTM's 540p modes usually bin by 2) needs
``binning=2``: sensor pixels are divided by it (the crop and the intrinsics both).
Units mm, world z up (QTM's). Inactive cameras (``active="0"``) are skipped with a
warning. The principal point must land inside the image, which catches a wrong
``subpixel``/``binning``.

The file is parsed without DTDs or entities (``defusedxml`` when installed; otherwise a
document declaring ``<!DOCTYPE`` or ``<!ENTITY`` is refused before the standard parser
sees it).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np

from selfpose3d_mm.geometry import MultiViewCameras
from ..json_yaml import read_text
from .assemble import build_rig, check_principal_point, warn
from .common import CalibrationError, validate_camera

try:
    from defusedxml import DefusedXmlException
    from defusedxml import ElementTree as SafeElementTree
except ImportError:  # pragma: no cover - optional; the fallback refuses any DTD
    SafeElementTree = DefusedXmlException = None

__all__ = ['QUALISYS_SUBPIXEL', 'parse_xml_safely', 'load_qualisys_calibration']

QUALISYS_SUBPIXEL = 64.0
_OPENCV_FROM_QUALISYS = np.diag([1.0, -1.0, -1.0])
_DTD = re.compile(r'<!\s*(DOCTYPE|ENTITY)', re.IGNORECASE)


def parse_xml_safely(path: str, error=CalibrationError) -> ET.Element:
    """The root element of an XML file, refusing DTDs and entities (no entity expansion,
    no external resources)."""
    text = read_text(path, error, 'XML text')
    if _DTD.search(text):
        raise error(f'{path}: refused: the XML declares a DTD or entities (<!DOCTYPE / '
                    '<!ENTITY), which a calibration export never needs')
    data = text.encode('utf-8')
    if data.lstrip().startswith(b'<?xml'):  # the text is decoded: say so to the parser
        data = re.sub(rb'^\s*<\?xml[^>]*\?>', b"<?xml version='1.0' encoding='utf-8'?>",
                      data, count=1)
    try:
        if SafeElementTree is not None:
            return SafeElementTree.fromstring(data, forbid_dtd=True)
        return ET.fromstring(data)
    except ET.ParseError as e:
        raise error(f'{path}: not valid XML: {e}') from None
    except Exception as e:
        if DefusedXmlException is not None and isinstance(e, DefusedXmlException):
            raise error(f'{path}: refused: {e}') from None
        raise


def _num(el, attr: str, path: str, where: str, default=None) -> float:
    value = el.get(attr)
    if value is None:
        if default is not None:
            return default
        raise CalibrationError(f'{path}: {where} element <{el.tag}> has no attribute '
                               f'`{attr}`')
    try:
        out = float(value)
    except ValueError:
        raise CalibrationError(f'{path}: {where} element <{el.tag}> attribute `{attr}` is '
                               f'not a number: {value[:40]!r}') from None
    if not np.isfinite(out):
        raise CalibrationError(f'{path}: {where} element <{el.tag}> attribute `{attr}` is '
                               f'not finite: {value!r}')
    return out


def _child(cam, tag: str, path: str, where: str):
    el = cam.find(tag)
    if el is None:
        raise CalibrationError(f'{path}: {where} has no <{tag}> element')
    return el


def _camera(cam, index: int, path: str, subpixel: float, binning: float) -> dict:
    name = cam.get('serial') or str(index)
    where = f'camera `{name}`'
    fov, tr, it = (_child(cam, t, path, where) for t in ('fov_video', 'transform',
                                                          'intrinsic'))
    left, top, right, bottom = (_num(fov, a, path, where)
                                for a in ('left', 'top', 'right', 'bottom'))
    wh = np.array([right - left + 1, bottom - top + 1]) / binning
    M = np.array([[_num(tr, f'r{i}{j}', path, where) for j in '123'] for i in '123'])
    position = np.array([_num(tr, a, path, where) for a in 'xyz'])
    R = _OPENCV_FROM_QUALISYS @ M
    px = subpixel * binning
    fx, fy = (_num(it, f'focalLength{a}', path, where) / px for a in 'UV')
    cx = _num(it, 'centerPointU', path, where) / px - left / binning
    cy = _num(it, 'centerPointV', path, where) / px - top / binning
    skew = _num(it, 'skew', path, where, 0.0) / px
    K = np.array([[fx, skew, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    dist = np.zeros(14)
    dist[:5] = [_num(it, a, path, where, 0.0) for a in
                ('radialDistortion1', 'radialDistortion2', 'tangentalDistortion1',
                 'tangentalDistortion2', 'radialDistortion3')]
    t = -R @ position
    validate_camera(path, where, K, R, t, dist, wh,
                    dict(K='<intrinsic>', fx='<intrinsic> focalLengthU',
                         fy='<intrinsic> focalLengthV', R='<transform> r11..r33',
                         t='<transform> x/y/z', dist='<intrinsic> *Distortion*',
                         image_size='<fov_video>'))
    try:
        check_principal_point(path, where, K, wh, '<intrinsic> centerPointU/V',
                              '<fov_video>')
    except CalibrationError as e:
        raise CalibrationError(f'{e}; the intrinsics were read as {subpixel:g} sub-pixels '
                               f'per pixel with binning {binning:g}: a video recorded with '
                               'binning needs binning=2 (convert_calibration: '
                               '--qualisys-binning 2)') from None
    return dict(name=name, K=K, R=R, t=t, dist=dist, image_size=wh,
                t_field='<transform> x/y/z')


def load_qualisys_calibration(path: str, subpixel: float = QUALISYS_SUBPIXEL,
                              binning: float = 1) -> MultiViewCameras:
    """Qualisys ``.qca.txt`` → rig of its active cameras (file order, named by
    ``serial``); see the module docstring.

    Args:
        subpixel: sub-pixels per pixel of the ``<intrinsic>`` values (QTM: 64).
        binning: the video's sensor binning (1, or 2 for QTM's binned modes).
    """
    if not (subpixel > 0 and binning > 0):
        raise CalibrationError(f'{path}: subpixel and binning must be positive, got '
                               f'{subpixel!r}, {binning!r}')
    root = parse_xml_safely(path)
    if root.tag != 'calibration':
        raise CalibrationError(f'{path}: the XML root is <{root.tag}>, not a Qualisys '
                               '<calibration>')
    cams, skipped = [], []
    for i, cam in enumerate(root.findall('cameras/camera')):
        if cam.get('active', '1').strip() == '0':
            skipped.append(cam.get('serial') or str(i))
            continue
        cams.append(_camera(cam, i, path, float(subpixel), float(binning)))
    if skipped:
        warn(f'{path}: skipped the inactive camera(s) {skipped} (active="0")')
    if not cams:
        raise CalibrationError(f'{path}: no active <camera> under <cameras>')
    return build_rig(path, cams, 'mm', '+z')
