"""Console entry points: ``selfpose3d-train``, ``selfpose3d-test``, … (pyproject.toml).

Each command runs one of the package's tool scripts with the arguments it was given,
exactly as ``python tools/<script> ARGS`` would in a checkout. The scripts are looked up in

1. ``selfpose3d_mm/.mim/tools`` — where a wheel install ships them (an editable install
   links it to the checkout's ``tools/``), the place ``mim train/test`` looks too;
2. the checkout's ``tools/`` when the package is imported from a checkout without .mim.

A command whose script is not part of this installation fails with a message naming it.
For ``train``, ``test`` and ``demo`` a first argument that is not an existing file is a
config name looked up in the package's configs (``.mim/configs``, else the checkout's
``configs/``) by relative path (``ablations/foo.py``) or by a file name found once::

    selfpose3d-train selfpose3d_synthetic.py --work-dir work_dirs/run1
"""
from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import List, Optional, Sequence

__all__ = ['TOOLS', 'resource_dir', 'find_tool', 'resolve_config', 'run_tool', 'main']

#: command (``selfpose3d-<command>``) → script in tools/
TOOLS = {
    'train': 'train.py',
    'test': 'test.py',
    'demo': 'demo.py',
    'convert-calibration': 'convert_calibration.py',
    'import-2d': 'import_2d.py',
    'export-poses': 'export_poses.py',
    'quality-report': 'quality_report.py',
    'analyze-logs': 'analyze_logs.py',
    'pose-search': 'pose_search.py',
    'extract-backbone': 'extract_backbone.py',
}
#: commands whose first positional argument is a config file
CONFIG_FIRST = frozenset({'train', 'test', 'demo'})

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(kind: str, package: Path = _PACKAGE) -> Optional[Path]:
    """``configs`` or ``tools`` of this installation (see the module docstring), or None."""
    if kind not in ('configs', 'tools'):
        raise ValueError(f"kind must be 'configs' or 'tools', got {kind!r}")
    mim = package / '.mim' / kind
    if mim.is_dir():
        return mim
    checkout = package.parent
    if (checkout / 'pyproject.toml').is_file() and (checkout / kind).is_dir():
        return checkout / kind
    return None


def _places(kind: str, package: Path) -> str:
    return f"{package / '.mim' / kind} or {package.parent / kind}"


def find_tool(command: str, package: Path = _PACKAGE) -> Path:
    """The script of ``selfpose3d-<command>``; SystemExit with a message if it is absent."""
    if command not in TOOLS:
        raise SystemExit(f'selfpose3d: unknown command {command!r}; commands: '
                         + ', '.join(sorted(TOOLS)))
    folder = resource_dir('tools', package)
    script = folder / TOOLS[command] if folder is not None else None
    if script is None or not script.is_file():
        raise SystemExit(
            f'selfpose3d-{command}: tools/{TOOLS[command]} is not part of this installation '
            f'of selfpose3d_mm (looked in {_places("tools", package)})')
    return script


def resolve_config(arg: str, package: Path = _PACKAGE) -> str:
    """``arg`` if it is a file; else the package config it names (relative path or unique
    file name); SystemExit naming what was searched otherwise."""
    if Path(arg).is_file():
        return arg
    root = resource_dir('configs', package)
    if root is None:
        raise SystemExit(f'config {arg!r}: no such file, and this installation of '
                         'selfpose3d_mm has no configs (looked in '
                         f'{_places("configs", package)})')
    direct = root / arg
    if direct.is_file():
        return str(direct)
    hits = sorted(p for p in root.rglob(Path(arg).name) if p.is_file())
    if len(hits) == 1:
        return str(hits[0])
    if not hits:
        raise SystemExit(f'config {arg!r}: no such file, and no config of that name in {root}')
    raise SystemExit(f'config {arg!r}: no such file, and several package configs have that '
                     'name; give one of: ' + ', '.join(str(h.relative_to(root)) for h in hits))


def run_tool(script: Path, argv: Sequence[str]) -> None:
    """Run ``script`` as ``__main__`` with ``argv`` (as ``python script ARGV`` would: its
    folder first on ``sys.path``); ``sys.argv``/``sys.path`` are restored afterwards."""
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [str(script), *argv]
    sys.path.insert(0, str(script.parent))
    try:
        runpy.run_path(str(script), run_name='__main__')
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path


def main(command: str, argv: Optional[Sequence[str]] = None) -> int:
    """Run the tool of ``command`` with ``argv`` (default: this process's arguments)."""
    args: List[str] = list(sys.argv[1:] if argv is None else argv)
    script = find_tool(command)
    if command in CONFIG_FIRST and args and not args[0].startswith('-'):
        config = resolve_config(args[0])
        if config != args[0]:
            print(f'selfpose3d-{command}: config {config}', file=sys.stderr)
        args[0] = config
    run_tool(script, args)
    return 0


def train() -> int:
    return main('train')


def test() -> int:
    return main('test')


def demo() -> int:
    return main('demo')


def convert_calibration() -> int:
    return main('convert-calibration')


def import_2d() -> int:
    return main('import-2d')


def export_poses() -> int:
    return main('export-poses')


def quality_report() -> int:
    return main('quality-report')


def analyze_logs() -> int:
    return main('analyze-logs')


def pose_search() -> int:
    return main('pose-search')


def extract_backbone() -> int:
    return main('extract-backbone')
