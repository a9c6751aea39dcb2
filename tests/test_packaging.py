"""The package as a user installs it: a wheel (configs and tools inside, under
selfpose3d_mm/.mim; dependency ranges, not pins; entry points), installed into a fresh
venv, trained with `selfpose3d-train CONFIG_NAME` and tested with `mim test` from a folder
outside the checkout, with no PYTHONPATH. Offline: the wheel is built without build
isolation, and the throwaway venv reaches torch & co. through a .pth file naming the
project venv's site-packages (added after the install, so pip sees an empty venv)."""
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from selfpose3d_mm import cli

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ['selfpose3d_mm', 'configs', 'tools', 'setup.py', 'pyproject.toml', 'MANIFEST.in',
           'README.md', 'LICENSE']
TINY = ['train_dataloader.dataset.num_samples=1', 'train_dataloader.batch_size=1',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'default_hooks.logger.interval=1']


def _env():
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(OMP_NUM_THREADS='1', PIP_NO_INDEX='1', PIP_DISABLE_PIP_VERSION_CHECK='1',
               PYTHONWARNINGS='ignore')
    return env


def _run(cmd, cwd, timeout=120, **kw):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=kw.pop('env', _env()),
                          capture_output=True, text=True, timeout=timeout, **kw)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    """The wheel built from a copy of the checkout's shipped files."""
    base = tmp_path_factory.mktemp('wheel')
    src = base / 'src'
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '.mim', '*.egg-info')
    for name in SHIPPED:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy(path, src / name)
    rc, out = _run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                    '--no-build-isolation', src, '-w', base / 'dist'], cwd=base)
    assert rc == 0, out
    (whl,) = (base / 'dist').glob('selfpose3d_mm-*.whl')
    return whl


def test_wheel_ships_configs_tools_entry_points_and_ranges(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith('.dist-info/METADATA'))).decode()
        entry = z.read(next(n for n in names if n.endswith('.dist-info/entry_points.txt')))
    mim = 'selfpose3d_mm/.mim/'
    configs = {p.relative_to(ROOT / 'configs').as_posix()
               for p in (ROOT / 'configs').rglob('*.py')}
    assert {f'{mim}configs/{c}' for c in configs} <= names  # every config, _base_ included
    assert {f'{mim}tools/train.py', f'{mim}tools/test.py', f'{mim}tools/demo.py'} <= names
    assert not [n for n in names if '__pycache__' in n]
    assert any(n.endswith('.dist-info/licenses/LICENSE') for n in names)

    requires = [ln.split(':', 1)[1].strip() for ln in meta.splitlines()
                if ln.startswith('Requires-Dist:')]
    pins = [r for r in requires if '==' in r.split(';')[0]]
    assert not pins, pins  # ranges, never exact pins
    base = [r for r in requires if 'extra ==' not in r]
    for name in ('torch', 'mmengine', 'mmcv', 'mmpose', 'numpy', 'scipy', 'opencv-python'):
        assert any(r.startswith(name + '>') or r.startswith(name + '<') for r in base), name
    assert not [r for r in base if r.startswith(('mmdet', 'torchvision'))]  # optional
    extras = {ln.split(':', 1)[1].strip() for ln in meta.splitlines()
              if ln.startswith('Provides-Extra:')}
    assert {'pseudo', 'tensorboard', 'onnx', 'tests'} <= extras
    assert 'License-Expression: Apache-2.0' in meta

    scripts = dict(line.split(' = ') for line in entry.decode().splitlines() if ' = ' in line)
    for command in cli.TOOLS:
        target = scripts[f'selfpose3d-{command}']
        module, func = target.split(':')
        assert module == 'selfpose3d_mm.cli' and callable(getattr(cli, func)), target


@pytest.fixture(scope='module')
def venv(wheel, tmp_path_factory):
    """A fresh venv holding the wheel; torch, mmengine, mmpose, ... from the project venv."""
    path = tmp_path_factory.mktemp('venv') / 'env'
    rc, out = _run([sys.executable, '-m', 'venv', '--without-pip', path], cwd=path.parent)
    assert rc == 0, out
    py = path / 'bin' / 'python'
    rc, out = _run([sys.executable, '-m', 'pip', '--python', py, 'install', '-q', '--no-deps',
                    wheel], cwd=path.parent)
    assert rc == 0, out
    site = Path(_run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                     cwd=path.parent)[1].strip())
    (site / '_selfpose3d_test_base.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    return path


@pytest.fixture(scope='module')
def trained(venv, tmp_path_factory):
    """`selfpose3d-train <config name>` run from a folder outside the checkout."""
    cwd = tmp_path_factory.mktemp('user')
    assert ROOT not in cwd.parents
    rc, out = _run([venv / 'bin' / 'selfpose3d-train', 'selfpose3d_synthetic.py',
                    '--work-dir', 'wd', '--no-validate', '--cfg-options', *TINY], cwd=cwd)
    assert rc == 0, out[-3000:]
    return cwd, out


def test_installed_package_is_the_wheel_not_the_checkout(venv, tmp_path):
    code = 'import selfpose3d_mm, mmpose; print(selfpose3d_mm.__file__)'
    rc, out = _run([venv / 'bin' / 'python', '-c', code], cwd=tmp_path)
    assert rc == 0, out
    assert Path(out.strip().splitlines()[-1]).is_relative_to(venv)


def test_train_entry_point_finds_the_packaged_config_and_writes_a_checkpoint(venv, trained):
    cwd, out = trained
    # the config came from the installed package's .mim/configs, its _base_ beside it
    line = next(ln for ln in out.splitlines() if ln.startswith('selfpose3d-train: config '))
    config = Path(line.split('config ', 1)[1])
    assert config.is_relative_to(venv) and config.parent.name == 'configs'
    ckpt = Path((cwd / 'wd' / 'last_checkpoint').read_text().strip())
    assert ckpt.is_file() and ckpt.suffix == '.pth' and ckpt.is_relative_to(cwd)
    (scalars,) = (cwd / 'wd').glob('*/vis_data/scalars.json')
    text = scalars.read_text()
    assert '"loss"' in text and '"stage": 2' in text


def test_mim_test_runs_the_packaged_tool(venv, trained):
    if importlib.util.find_spec('mim') is None:
        pytest.skip('openmim is not installed')
    cwd, _ = trained
    ckpt = (cwd / 'wd' / 'last_checkpoint').read_text().strip()
    rc, out = _run([venv / 'bin' / 'python', '-m', 'mim', 'test', 'selfpose3d_mm',
                    'selfpose3d_synthetic.py', '--checkpoint', ckpt, '--work-dir', 'wdt',
                    '--cfg-options', 'test_dataloader.dataset.num_samples=2',
                    'test_dataloader.num_workers=0',
                    'test_dataloader.persistent_workers=False'], cwd=cwd)
    assert rc == 0, out[-3000:]
    assert f'{venv}' in out and '.mim/configs/selfpose3d_synthetic.py' in out
    assert 'mAP' in out and 'Recall@500' in out


def test_a_command_without_its_tool_fails_with_a_message(tmp_path):
    pkg = tmp_path / 'site' / 'selfpose3d_mm'
    (pkg / '.mim' / 'tools').mkdir(parents=True)
    with pytest.raises(SystemExit, match=r'tools/import_2d.py is not part of this '
                       r'installation .*\.mim/tools'):
        cli.find_tool('import-2d', package=pkg)
    with pytest.raises(SystemExit, match='unknown command'):
        cli.find_tool('fly', package=pkg)
    # a checkout without .mim: the tools/ beside the package
    checkout = tmp_path / 'checkout'
    (checkout / 'selfpose3d_mm').mkdir(parents=True)
    (checkout / 'tools').mkdir()
    (checkout / 'pyproject.toml').write_text('')
    (checkout / 'tools' / 'demo.py').write_text('')
    assert cli.find_tool('demo', package=checkout / 'selfpose3d_mm') == \
        checkout / 'tools' / 'demo.py'


def test_config_names_resolve_like_mim(tmp_path):
    configs = tmp_path / 'selfpose3d_mm' / '.mim' / 'configs'
    for rel in ('a.py', 'sub/b.py', '_base_/a.py', 'sub/c.py', 'other/c.py'):
        (configs / rel).parent.mkdir(parents=True, exist_ok=True)
        (configs / rel).write_text('')
    pkg = tmp_path / 'selfpose3d_mm'
    assert cli.resolve_config('a.py', pkg) == str(configs / 'a.py')  # the path wins
    assert cli.resolve_config('b.py', pkg) == str(configs / 'sub' / 'b.py')
    assert cli.resolve_config('sub/c.py', pkg) == str(configs / 'sub' / 'c.py')
    with pytest.raises(SystemExit, match=r'several .* other/c.py, sub/c.py'):
        cli.resolve_config('c.py', pkg)
    with pytest.raises(SystemExit, match='no config of that name'):
        cli.resolve_config('nope.py', pkg)
    mine = tmp_path / 'mine.py'
    mine.write_text('')
    assert cli.resolve_config(str(mine), pkg) == str(mine)  # an existing file as given


def test_run_tool_runs_a_script_as_main_and_restores_argv(tmp_path):
    script = tmp_path / 'probe.py'
    out = tmp_path / 'seen.txt'
    script.write_text('import sys\nif __name__ == "__main__":\n'
                      f'    open({str(out)!r}, "w").write(repr(sys.argv[1:]) + sys.path[0])\n')
    argv = sys.argv[:]
    cli.run_tool(script, ['--x', '1'])
    assert out.read_text() == repr(['--x', '1']) + str(tmp_path)
    assert sys.argv == argv and sys.path[0] != str(tmp_path)
