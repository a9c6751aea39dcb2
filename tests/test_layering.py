"""The package's layering (docs/architecture.md): what may import what, no import cycle,
no private name imported across modules."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / 'selfpose3d_mm'

# package → the other packages of selfpose3d_mm it may import
ALLOWED = {
    'geometry': {'skeleton', 'utils'},  # skeleton: default limbs of the association
    'skeleton': {'utils'},
    'utils': set(),
    'io': {'geometry', 'skeleton', 'utils'},
    'structures': {'geometry'},
    'datasets': {'geometry', 'io', 'skeleton', 'structures', 'utils'},
    'models': {'geometry', 'structures', 'utils'},
    'engine': {'utils'},
    'evaluation': {'skeleton', 'utils'},
    'visualization': {'geometry', 'skeleton', 'utils'},
    'tracking': {'geometry', 'skeleton', 'utils'},
    'model_zoo': {'cli'},  # finds the named model's config among the package's configs
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix('')
    parts = list(rel.parts)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts)


def _imports(path: Path):
    """(module imported, names imported) of every import statement of a file."""
    tree = ast.parse(path.read_text())
    name = _module_name(path)
    package = name if path.name == '__init__.py' else name.rsplit('.', 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                mod = '.'.join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ''
            yield mod, [a.name for a in node.names]


FILES = sorted(p for p in PKG.rglob('*.py') if '__pycache__' not in p.parts)


def _graph():
    modules = {_module_name(p): p for p in FILES}
    graph = {}
    for m, p in modules.items():
        deps = set()
        for mod, names in _imports(p):
            if not mod.startswith('selfpose3d_mm'):
                continue
            for n in names or ['']:  # `from pkg import submodule` names a module too
                full = f'{mod}.{n}' if n else mod
                deps.add(full if full in modules else mod)
        graph[m] = {d for d in deps if d in modules and d != m}
    return graph


def test_packages_import_only_what_the_architecture_allows():
    bad = []
    for p in FILES:
        parts = _module_name(p).split('.')
        if len(parts) < 2 or parts[1] not in ALLOWED:
            continue
        own = parts[1]
        for mod, _ in _imports(p):
            mp = mod.split('.')
            if mp[0] != 'selfpose3d_mm' or len(mp) < 2 or mp[1] == own:
                continue
            if mp[1] not in ALLOWED[own]:
                bad.append(f'{p.relative_to(PKG.parent)} imports {mod}')
    assert not bad, '\n'.join(bad)


def test_no_import_cycle():
    graph = _graph()
    # the package's own __init__ files import their children: not edges of a cycle
    graph = {m: {d for d in ds if not m.startswith(d + '.') and not d.startswith(m + '.')}
             for m, ds in graph.items()}
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in graph[m]:
            if state.get(d) == 1:
                pytest.fail('import cycle: ' + ' -> '.join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m)


def test_no_private_name_imported_across_modules():
    bad = []
    for p in FILES:
        for mod, names in _imports(p):
            for n in names:
                if n.startswith('_') and not n.startswith('__'):
                    bad.append(f'{p.relative_to(PKG.parent)}: from {mod} import {n}')
    assert not bad, '\n'.join(bad)


def test_modules_stay_small_and_the_detector_short():
    sizes = {p.relative_to(PKG.parent).as_posix(): len(p.read_text().splitlines())
             for p in FILES}
    assert max(sizes.values()) <= 470, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    assert sizes['selfpose3d_mm/models/detectors/selfpose3d.py'] <= 250
