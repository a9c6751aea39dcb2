"""The one build step pyproject.toml cannot declare: ``configs/`` and ``tools/`` ship
inside the package as ``selfpose3d_mm/.mim/configs`` and ``selfpose3d_mm/.mim/tools``,
the OpenMMLab layout that ``mim train/test selfpose3d_mm CONFIG`` and the
``selfpose3d-*`` commands (``selfpose3d_mm/cli.py``) look in.

* wheel / regular install: copied into the build directory (the checkout is untouched);
* editable install (``pip install -e .``): relative symlinks in the checkout
  (``selfpose3d_mm/.mim/configs -> ../../configs``), so edits stay live; a copy where
  the file system has no symlinks.

Everything else (name, version, dependencies, entry points) is in pyproject.toml.
"""
import os
import os.path as osp
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = osp.dirname(osp.abspath(__file__))
MIM_ITEMS = ('configs', 'tools')
IGNORE = shutil.ignore_patterns('__pycache__', '*.pyc', '*.pyo', '.*')


def _remove(path):
    if osp.islink(path) or osp.isfile(path):
        os.remove(path)
    elif osp.isdir(path):
        shutil.rmtree(path)


def _sources():
    for name in MIM_ITEMS:
        src = osp.join(ROOT, name)
        if not osp.isdir(src):
            raise FileNotFoundError(f'{src}: missing; selfpose3d_mm ships {name}/ in '
                                    'selfpose3d_mm/.mim (build from a checkout or an sdist)')
        yield name, src


class BuildPyWithMim(build_py):
    """build_py + selfpose3d_mm/.mim/{configs,tools}."""

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            self._link_into_checkout()
        else:
            self._copy_into(osp.join(self.build_lib, 'selfpose3d_mm', '.mim'))

    @staticmethod
    def _copy_into(mim_dir):
        for name, src in _sources():
            dst = osp.join(mim_dir, name)
            _remove(dst)
            shutil.copytree(src, dst, ignore=IGNORE)

    def _link_into_checkout(self):
        mim_dir = osp.join(ROOT, 'selfpose3d_mm', '.mim')
        os.makedirs(mim_dir, exist_ok=True)
        for name, _ in _sources():
            dst = osp.join(mim_dir, name)
            _remove(dst)
            try:
                os.symlink(osp.join('..', '..', name), dst, target_is_directory=True)
            except (OSError, NotImplementedError):  # no symlinks here: a copy
                self._copy_into(mim_dir)
                return


setup(cmdclass={'build_py': BuildPyWithMim})
