"""No import cycles inside the armtwin package, and its packages in layers.

The graph is built from the source, not by importing it: every ``import`` / ``from ... import``
statement counts, at module level or inside a function (a function-level import hides a cycle,
it does not remove one). An edge goes to the module named (``from a.b import c`` goes to
``a.b.c`` when that is a module, else to ``a.b``), not to the packages above it: a package's
``__init__`` re-exporting its own submodules is not a cycle. Run as a script to print the graph's
cycles: ``python tests/test_import_graph.py [package_dir]``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "armtwin"


def module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> source file, for every ``.py`` file under ``package_dir``."""
    root = package_dir.parent
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is one of ``modules`` (None: outside the package)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (anywhere in its body)."""
    modules = module_names(package_dir)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against the importing module's package
                    base = module.split(".")
                    drop = node.level - 1 if is_package else node.level
                    base = base[: len(base) - drop] if drop else base
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                targets = [f"{prefix}.{alias.name}" for alias in node.names] or [prefix]
            for target in targets:
                resolved = _resolve(target, modules)
                if resolved is not None and resolved != module:
                    graph[module].add(resolved)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(found)


def describe(component: list[str], graph: dict[str, set[str]]) -> str:
    """``a -> b, b -> a``: the edges inside one component."""
    inside = set(component)
    return ", ".join(f"{a} -> {b}" for a in component for b in sorted(graph[a] & inside))


def test_armtwin_has_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 50  # the walk found the package
    found = cycles(graph)
    assert not found, "import cycles in armtwin:\n" + "\n".join(describe(c, graph) for c in found)


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from pkg.sub import b\n")  # a package importing its own part: no cycle
    (pkg / "a.py").write_text("import os\n\ndef f():\n    from .sub.b import g\n    return g\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from pkg import a\n\ndef g():\n    return a\n")
    (pkg / "c.py").write_text("from pkg.sub.b import g\n")
    graph = import_graph(pkg)
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.a"}
    assert graph["pkg"] == {"pkg.sub.b"} and graph["pkg.c"] == {"pkg.sub.b"}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b"]]


#: armtwin's packages from the bottom up (docs/architecture.md, "Layers"): a package imports only from
#: its own layer or below. Commands (:func:`is_command`) sit above every layer: they wire packages
#: together and may import any of them.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("assets", "poses", "units", "timing", "staging", "_optional", "lifeline", "video"),
    ("envs", "cli_fields"),
    ("data",),
    ("hardware",),
    ("robots",),
    ("teleop", "mimic", "convert", "bridge", "twingap"),
    ("policy",),
    ("studio", "pipeline"),
)


def is_command(module: str) -> bool:
    """A command module: ``armtwin.cli``, ``armtwin.__main__`` or a package's ``cli``."""
    return module.split(".")[-1] in ("cli", "__main__")


def layer_violations(graph: dict[str, set[str]], layers=LAYERS, root: str = "armtwin") -> list[str]:
    """``a -> b`` for every edge from a non-command module to a package of a higher layer, to a package
    that no layer names (which the check would otherwise miss), or to a command module (commands
    import packages, never the other way)."""
    rank = {pkg: i for i, names in enumerate(layers) for pkg in names}
    bad = []
    for module in sorted(graph):
        parts = module.split(".")
        if len(parts) < 2 or is_command(module):
            continue
        for target in sorted(graph[module]):
            tparts = target.split(".")
            if is_command(target):
                bad.append(f"{module} -> {target}")
                continue
            if len(tparts) < 2 or tparts[1] == parts[1]:
                continue
            src, dst = rank.get(parts[1]), rank.get(tparts[1])
            if src is None or dst is None or dst > src:
                bad.append(f"{module} -> {target}")
    return bad


def test_armtwin_packages_import_only_their_own_layer_or_below():
    found = layer_violations(import_graph())
    assert not found, "imports against the layers of tests/test_import_graph.py:LAYERS:\n" + "\n".join(found)


def test_a_layer_violation_is_found():
    graph = {"armtwin.data.reader": {"armtwin.robots.factory", "armtwin.assets.models"},
             "armtwin.robots.factory": {"armtwin.data.reader"}, "armtwin.robots.cli": {"armtwin.policy.x"},
             "armtwin.newpkg.m": set(), "armtwin.assets.models": {"armtwin.newpkg.m"},
             "armtwin.teleop.loop": {"armtwin.teleop.cli"}, "armtwin.teleop.cli": {"armtwin.policy.x"}}
    assert layer_violations(graph) == ["armtwin.assets.models -> armtwin.newpkg.m",
                                       "armtwin.data.reader -> armtwin.robots.factory",
                                       "armtwin.teleop.loop -> armtwin.teleop.cli"]


if __name__ == "__main__":
    g = import_graph(Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGE_DIR)
    found = cycles(g)
    for c in found:
        print(f"cycle ({len(c)} modules): {describe(c, g)}")
    print(f"{len(g)} modules, {sum(map(len, g.values()))} edges, {len(found)} cycles")
    sys.exit(1 if found else 0)
