"""selfpose3d_mm: SelfPose3d (CVPR 2024) as an OpenMMLab (mmengine/mmpose 1.x) plugin.

The heavy stack (torch, an mmcv built with ops, mmpose without chumpy) is installed by
``tools/setup_env.sh``; ``install_requires`` lists what the package imports so that
``pip check`` and other installers see the real dependencies.
"""
import os.path as osp

from setuptools import find_packages, setup


def read_requirements(name):
    path = osp.join(osp.dirname(__file__), 'requirements', name)
    reqs = []
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                reqs.append(line)
    return reqs


def read_version():
    ns = {}
    with open(osp.join(osp.dirname(__file__), 'selfpose3d_mm', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


setup(
    name='selfpose3d_mm',
    version=read_version(),
    description='SelfPose3d: self-supervised multi-person multi-view 3D pose '
    'estimation for mmengine / mmpose 1.x',
    long_description=open(osp.join(osp.dirname(__file__), 'README.md')).read()
    if osp.exists(osp.join(osp.dirname(__file__), 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    python_requires='>=3.9',
    install_requires=read_requirements('torch.txt') + [
        'mmcv>=2.0.0,<2.2.0', 'mmpose>=1.3.0,<1.4'
    ] + read_requirements('runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
    license='Apache-2.0',
)
