"""Convert a calibration into the rig file format
(selfpose3d_mm/io/calibration/rig_file.py).

    python tools/convert_calibration.py SRC DST [--from panoptic|shelf_campus|opencv_yaml|rig]
        [--cameras NAME ...] [--image-size W H] [--units mm|cm|m] [--world-up=+z|-y|...]
        [--pose t|center]

SRC is read with the package's loaders (CMU Panoptic ``calibration_<seq>.json``, VoxelPose's
Shelf/Campus ``calibration_*.json``, OpenCV FileStorage YAML, or a rig file), i.e. in the
internal convention (mm, z up, ``x_cam = R X + t``); DST (``.json``, or ``.yml``/``.yaml``)
is written in ``--units`` / ``--world-up`` (default mm, +z: exact; write ``--world-up=-y``
with an ``=``, or argparse reads ``-y`` as an option). ``--cameras`` picks
views (Panoptic default: VoxelPose's five HD cameras 00_03 00_06 00_12 00_13 00_23);
``--image-size`` is required for Shelf/Campus (Shelf 1032 776, Campus 360 288), whose
files do not store it. OpenCV's 4/5/8/12/14-coefficient distortion models are kept
(each camera written up to its last non-zero model group). A malformed SRC ends the tool
with the loader's message (file, camera, field; the guessed format and why when --from
is omitted), not a traceback. Examples:

    python tools/convert_calibration.py data/panoptic/160906_band1/calibration_160906_band1.json \\
        data/my_rig/calibration.json --from panoptic --cameras 00_03 00_06 00_12
    python tools/convert_calibration.py data/Shelf/calibration_shelf.json shelf_rig.json \\
        --from shelf_campus --image-size 1032 776
"""
import argparse
import sys

from selfpose3d_mm.io import (CalibrationError, guess_calibration_format, load_cameras,
                              save_rig)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Convert a calibration to the rig file format')
    p.add_argument('src', help='calibration file to read')
    p.add_argument('dst', help='rig file to write (.json, .yml or .yaml)')
    p.add_argument('--from', dest='fmt', default=None,
                   choices=['panoptic', 'shelf_campus', 'opencv_yaml', 'rig'],
                   help='format of SRC (guessed from its content when omitted)')
    p.add_argument('--cameras', nargs='+', default=None,
                   help='camera names to keep, in this order (default: all; Panoptic: '
                   'the five VoxelPose HD cameras)')
    p.add_argument('--image-size', nargs=2, type=int, metavar=('W', 'H'), default=None,
                   help='image size of every camera (required for shelf_campus)')
    p.add_argument('--units', default='mm', choices=['mm', 'cm', 'm'],
                   help='units of DST (default mm)')
    p.add_argument('--world-up', default='+z', choices=['+z', '-z', '+y', '-y', '+x', '-x'],
                   help='up axis of DST\'s world (default +z, the internal one)')
    p.add_argument('--pose', default='t', choices=['t', 'center'],
                   help='write R, t (default) or R, center')
    return p.parse_args(argv)


def convert(src: str, dst: str, fmt=None, cameras=None, image_size=None, units='mm',
            world_up='+z', pose='t'):
    """Read ``src`` and write it as a rig file; returns the rig (internal convention)."""
    given = {'opencv_yaml': 'opencv'}.get(fmt, fmt)
    fmt = given or guess_calibration_format(src)
    kwargs = {}
    if fmt == 'shelf_campus':
        if image_size is None:
            raise SystemExit('convert_calibration: --image-size W H is required for '
                             'shelf_campus (Shelf 1032 776, Campus 360 288)')
        kwargs['image_size'] = tuple(image_size)
    elif image_size is not None:
        raise SystemExit(f'convert_calibration: {src} ({fmt}) stores the image sizes; '
                         'drop --image-size')
    if fmt in ('panoptic', 'rig') and cameras is not None:
        kwargs['camera_names'] = list(cameras)
    cams = load_cameras(src, given, **kwargs)  # a guessed format's errors say why
    if fmt not in ('panoptic', 'rig') and cameras is not None:
        names = cams.names or []
        missing = [n for n in cameras if n not in names]
        if missing:
            raise SystemExit(f'convert_calibration: cameras {missing} not in {src} '
                             f'(it has {names})')
        cams = cams.select_views([names.index(n) for n in cameras])
    save_rig(dst, cams, units=units, world_up=world_up, pose=pose,
             meta=dict(converted_from=str(src), source_format=fmt))
    return cams


def main(argv=None):
    args = parse_args(argv)
    try:
        cams = convert(args.src, args.dst, args.fmt, args.cameras, args.image_size,
                       args.units, args.world_up, args.pose)
    except (CalibrationError, FileNotFoundError) as e:
        raise SystemExit(f'convert_calibration: {e}') from None
    print(f'wrote {args.dst}: {cams.num_views} cameras {cams.names} '
          f'({args.units}, world up {args.world_up})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
