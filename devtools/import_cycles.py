"""Report import cycles among the repository's own modules; exit 1 if there is any.

    python -m devtools.import_cycles            # the whole repository
    python -m devtools.import_cycles --verbose  # also the number of modules and import edges

Modules: ``plugins/argo_energy`` (as ``argo_energy``), ``bench``, ``devtools``, ``eniscope_simulator``,
``tests`` and ``dags/*.py`` (top-level names, as Airflow imports them). Every import counts,
function-level ones too (they run as well, only later), except those under ``if TYPE_CHECKING:``.
``from pkg import name`` depends on ``pkg.name`` when that is a module, else on ``pkg``; importing
``a.b.c`` is an edge to ``a.b.c`` only (the packages' ``__init__`` on the way are not counted, so a
package that re-exports its modules is not a cycle by itself). Standard library only.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# (directory holding the top-level package or modules, names of the packages to scan; None: loose modules)
ROOTS: tuple[tuple[str, str | None], ...] = (
    ("plugins", "argo_energy"),
    (".", "bench"),
    (".", "devtools"),
    (".", "eniscope_simulator"),
    (".", "tests"),
    ("dags", None),
)


def module_files(repo: Path = REPO) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` of the scanned roots."""
    found: dict[str, Path] = {}
    for base, package in ROOTS:
        root = repo / base
        files = sorted((root / package).rglob("*.py")) if package else sorted(root.glob("*.py"))
        for path in files:
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if parts:
                found[".".join(parts)] = path
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers of the statements inside ``if TYPE_CHECKING:`` blocks (imports for type hints only)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
            if name == "TYPE_CHECKING":
                for stmt in node.body:
                    lines.update(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
    return lines


def _resolve(name: str, modules: Iterable[str]) -> str | None:
    """``name`` or its longest prefix that is one of ``modules``."""
    known = set(modules)
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The repository modules ``module`` (file ``path``) imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip = _type_checking_lines(tree)
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            targets.update(filter(None, (_resolve(alias.name, modules) for alias in node.names)))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                target = f"{base}.{alias.name}" if base else alias.name
                resolved = target if target in modules else _resolve(base, modules) if base else None
                if resolved:
                    targets.add(resolved)
    targets.discard(module)
    return targets


def import_graph(repo: Path = REPO) -> dict[str, set[str]]:
    """Module -> the repository modules it imports."""
    modules = module_files(repo)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted; sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # recursion depth = longest import chain: a few dozen at most
        index[node] = low[node] = len(index)
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            component = stack[stack.index(node) :]
            del stack[stack.index(node) :]
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def example_path(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One concrete cycle through the first module of ``component`` (breadth-first, shortest)."""
    members, start = set(component), component[0]
    previous: dict[str, str] = {}
    queue = [start]
    while queue:
        current = queue.pop(0)
        for child in sorted(graph[current] & members):
            if child == start:
                path = [current]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if child not in previous:
                previous[child] = current
                queue.append(child)
    return [*component, start]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="also print the size of the graph")
    args = parser.parse_args(argv)
    graph = import_graph()
    found = cycles(graph)
    if args.verbose:
        edges = sum(len(targets) for targets in graph.values())
        print(f"{len(graph)} modules, {edges} import edges")
    for component in found:
        print(f"import cycle among {len(component)} modules: {' -> '.join(example_path(graph, component))}")
    if found:
        print(f"{len(found)} import cycle(s)", file=sys.stderr)
        return 1
    print("no import cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
