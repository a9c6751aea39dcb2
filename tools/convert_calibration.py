"""Import a calibration into the rig file format (selfpose3d_mm/io/calibration/rig_file.py,
docs/calibration.md).

    python tools/convert_calibration.py INPUT [INPUT2] -o RIG.json
        [--format auto|generic_json|easymocap|toml|qualisys|panoptic|shelf_campus|
                  opencv_yaml|rig]
        [--units m|cm|mm] [--image-size W H] [--input-world-up=+z|-y|...]
        [--cameras NAME ...] [--out-units mm|cm|m] [--world-up=+z|-y|...]
        [--pose t|center] [--qualisys-binning N]

INPUT: a generic K + [R|t] JSON, EasyMocap's intri.yml + extri.yml (the two files, one of
them, or their folder), a Pose2Sim / anipose .toml, a Qualisys .qca.txt, a CMU Panoptic
calibration_<seq>.json, VoxelPose's Shelf/Campus calibration_*.json, an OpenCV
FileStorage YAML/XML with a `cameras` sequence, or a rig file. The format is guessed from
the content unless --format is given; the tool prints the guess and why, then per camera
its name, image size, focal lengths and centre (in the rig's units and axes).

Input options (only for formats that lack the information): --units, the input's length
units (a generic JSON without `units` needs it; TOML and EasyMocap default to metres,
anipose writes its board's units); --image-size W H for cameras without a size
(Shelf/Campus always: Shelf 1032 776, Campus 360 288; a generic JSON or EasyMocap
camera without one); --input-world-up, the input world's up axis (default +z; a generic
JSON may say `world_up`); --qualisys-binning, a Qualisys video's sensor binning.
Output options: --out-units (default mm), --world-up (default +z; write `--world-up=-y`
with an `=`, or argparse reads `-y` as an option), --pose t|center, --cameras (pick and
order views; Panoptic default: VoxelPose's five HD cameras 00_03 00_06 00_12 00_13 00_23).

The older form `convert_calibration.py SRC DST [--from FORMAT] [--units U]` still works;
there --units are DST's units (as before), and an existing DST that is not a rig file is
never overwritten. Any error ends the tool with a message naming the file and the field
(and the guessed format and why), not a traceback. Examples:

    python tools/convert_calibration.py calib.json -o data/my_rig/calibration.json --units m
    python tools/convert_calibration.py calib/intri.yml calib/extri.yml -o rig.json
    python tools/convert_calibration.py calibration/Calib.qca.txt -o rig.json
    python tools/convert_calibration.py data/Shelf/calibration_shelf.json -o shelf_rig.json \\
        --format shelf_campus --image-size 1032 776
"""
import argparse
import os.path as osp
import sys
import warnings

import numpy as np

from selfpose3d_mm.io import (RIG_UNITS, WORLD_UP_AXES, CalibrationError,
                              CalibrationImportWarning, guess_calibration, load_cameras,
                              save_rig, world_axes)

FORMATS = ('auto', 'generic_json', 'easymocap', 'toml', 'qualisys', 'panoptic',
           'shelf_campus', 'opencv_yaml', 'opencv', 'rig')
_INPUT_OPTIONS = {  # option -> (loader keyword, formats that take it)
    'units': ('units', ('generic_json', 'toml', 'easymocap')),
    'image_size': ('image_size', ('shelf_campus', 'generic_json', 'easymocap')),
    'input_world_up': ('world_up', ('generic_json', 'toml', 'easymocap')),
    'binning': ('binning', ('qualisys', )),
}
_FLAGS = dict(units='--units', image_size='--image-size', input_world_up='--input-world-up',
              binning='--qualisys-binning')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Import a calibration into the rig file format')
    p.add_argument('inputs', nargs='+', metavar='INPUT',
                   help='calibration to read (EasyMocap: intri.yml extri.yml, or the folder)'
                   '; in the older form SRC DST, the rig file to write comes second')
    p.add_argument('-o', '--output', default=None, help='rig file to write (.json, .yml)')
    p.add_argument('--format', '--from', dest='fmt', default='auto', choices=FORMATS,
                   help='format of INPUT (default auto: guessed from its content)')
    p.add_argument('--units', default=None, choices=list(RIG_UNITS),
                   help='length units of INPUT when it does not state them (generic JSON '
                   'without `units`; TOML, EasyMocap: default m). In the form SRC DST: '
                   'the units of DST')
    p.add_argument('--image-size', nargs=2, type=float, metavar=('W', 'H'), default=None,
                   help='image size of the cameras INPUT has none for (Shelf/Campus)')
    p.add_argument('--input-world-up', default=None, choices=WORLD_UP_AXES,
                   help='up axis of INPUT\'s world (generic JSON, TOML, EasyMocap; '
                   'default +z)')
    p.add_argument('--qualisys-binning', dest='binning', type=int, default=None,
                   help='sensor binning of a Qualisys video (default 1)')
    p.add_argument('--cameras', nargs='+', default=None,
                   help='camera names to keep, in this order (default: all; Panoptic: '
                   'the five VoxelPose HD cameras)')
    p.add_argument('--out-units', default=None, choices=list(RIG_UNITS),
                   help='units of the rig file written (default mm)')
    p.add_argument('--world-up', default='+z', choices=WORLD_UP_AXES,
                   help='up axis of the rig file\'s world (default +z, the internal one)')
    p.add_argument('--pose', default='t', choices=['t', 'center'],
                   help='write R, t (default) or R, center')
    return p.parse_args(argv)


def _fail(message: str):
    raise SystemExit(f'convert_calibration: {message}')


def _resolve_io(args):
    """(inputs, output, input units, output units, older form?) from the command line."""
    if args.output is None:
        if len(args.inputs) != 2:
            _fail('give the rig file to write with -o RIG.json (e.g. convert_calibration.py '
                  f'{" ".join(args.inputs)} -o rig.json)')
        src, dst = args.inputs
        if args.units and args.out_units:
            _fail('in the form SRC DST, --units are DST\'s units: give either --units or '
                  '--out-units (or use INPUT -o RIG with --units for the input)')
        if osp.exists(dst):
            try:
                is_rig = guess_calibration(dst)[0] == 'rig'
            except (CalibrationError, OSError):
                is_rig = False
            if not is_rig:
                _fail(f'{dst} exists and is not a rig file: not overwriting it (a second '
                      'input? give the rig file to write with -o RIG.json)')
        return [src], dst, None, args.units or args.out_units or 'mm', True
    if len(args.inputs) > 2:
        _fail(f'at most two inputs (EasyMocap\'s intri.yml extri.yml), got {args.inputs}')
    return list(args.inputs), args.output, args.units, args.out_units or 'mm', False


def convert(inputs, dst, fmt='auto', cameras=None, image_size=None, units=None,
            out_units='mm', world_up='+z', input_world_up=None, pose='t', binning=None):
    """Read ``inputs`` (one path, or EasyMocap's two) and write ``dst`` as a rig file.

    Returns:
        (rig in the internal convention, format, why it was chosen).
    """
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    src = inputs[0]
    given = {'opencv_yaml': 'opencv'}.get(fmt, fmt) if fmt not in (None, 'auto') else None
    if any(osp.abspath(p) == osp.abspath(dst) for p in inputs):
        _fail(f'{dst} is an input: write the rig file elsewhere')
    fmt, why = (given, 'given with --format') if given else guess_calibration(*inputs)
    if fmt == 'shelf_campus' and image_size is None:
        _fail('--image-size W H is required for shelf_campus (Shelf 1032 776, Campus '
              f'360 288){"" if given else f"; {src}: format guessed because {why}"}')
    kwargs = {}
    options = dict(units=units, image_size=image_size, input_world_up=input_world_up,
                   binning=binning)
    for option, value in options.items():
        if value is None:
            continue
        key, formats = _INPUT_OPTIONS[option]
        if fmt not in formats:
            what = ('stores the image sizes; drop --image-size' if option == 'image_size'
                    else f'does not take {_FLAGS[option]}: it states this itself'
                    + ('; the rig file\'s units are --out-units' if option == 'units'
                       else ''))
            _fail(f'{src} ({fmt}) {what}')
        kwargs[key] = tuple(value) if option == 'image_size' else value
    if fmt in ('panoptic', 'rig') and cameras is not None:
        kwargs['camera_names'] = list(cameras)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', CalibrationImportWarning)
        cams = load_cameras(inputs if len(inputs) > 1 else src, given, **kwargs)
    for w in caught:
        print(f'warning: {w.message}', file=sys.stderr)
    if fmt not in ('panoptic', 'rig') and cameras is not None:
        names = cams.names or []
        missing = [n for n in cameras if n not in names]
        if missing:
            _fail(f'cameras {missing} not in {src} (it has {names})')
        cams = cams.select_views([names.index(n) for n in cameras])
    save_rig(dst, cams, units=out_units, world_up=world_up, pose=pose,
             meta=dict(converted_from=[str(p) for p in inputs] if len(inputs) > 1
                       else str(src), source_format=fmt))
    return cams, fmt, why


def summary(cams, units: str = 'mm', world_up: str = '+z') -> str:
    """Per camera: name, image size, focal lengths, centre (in ``units``, ``world_up``)."""
    d = {k: np.asarray(v, np.float64) for k, v in cams.to_dict().items() if k != 'names'}
    centres = cams.centers.double().numpy() @ world_axes(world_up) / RIG_UNITS[units]
    names = cams.names or [str(i) for i in range(cams.num_views)]
    width = max(8, *(len(n) for n in names))
    lines = [f'  {"camera":<{width}} {"image":>11} {"fx":>9} {"fy":>9}  centre ({units}, '
             f'world up {world_up})']
    for i, n in enumerate(names):
        w, h = d['image_size'][i]
        c = ', '.join(f'{v:.4g}' for v in centres[i])
        lines.append(f'  {n:<{width}} {f"{w:g}x{h:g}":>11} {d["K"][i, 0, 0]:9.2f} '
                     f'{d["K"][i, 1, 1]:9.2f}  ({c})')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    inputs, dst, in_units, out_units, older = _resolve_io(args)
    try:
        cams, fmt, why = convert(inputs, dst, args.fmt, args.cameras, args.image_size,
                                 in_units, out_units, args.world_up, args.input_world_up,
                                 args.pose, args.binning)
    except (CalibrationError, OSError) as e:
        msg = str(e)
        if older and 'does not state its length units' in msg:
            msg += ('. (In the form SRC DST, --units are DST\'s: use INPUT -o RIG --units '
                    'U to declare the input\'s.)')
        _fail(msg)
    print(f'format: {fmt} ({why})')
    print(summary(cams, out_units, args.world_up))
    print(f'wrote {dst}: {cams.num_views} cameras {cams.names} '
          f'({out_units}, world up {args.world_up})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
