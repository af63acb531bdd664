"""Prints the import graph of `keras_videoprism` and fails on a cycle.

Every `import` and `from ... import` statement of the package is read with
`ast` (at module level and inside functions alike, since a deferred import
is still a dependency), without importing anything. An edge `a -> b` means
module `a` imports module `b`; `from keras_videoprism.x import y` is an
edge to `keras_videoprism.x.y` when `y` is a module, else to
`keras_videoprism.x`.

Two checks:
- no cycle in the graph (package `__init__` files included);
- the layers of the package: a module imports only modules of its own
  layer or of a lower one (`RANKS`), so that the checkpoint readers of
  `convert/` never import the models, and the building blocks of `layers/`
  neither. Package `__init__` files only re-export and are exempt (e.g.
  `layers/__init__.py` exports the video converter of `models/`).

Usage: python tools/check_import_cycles.py [--quiet]

Exit status 0 when both hold; otherwise 1, with the cycles and the imports
across layers printed.
"""

import argparse
import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "keras_videoprism"
# The layers of the package, lowest first: a module may import modules of
# its own rank or lower.
RANKS = {
    "version": 0,
    "utils": 0,
    "layers": 1,
    "losses": 1,
    "convert": 2,
    "models": 3,
    "tokenizers": 4,
    "search": 4,
    "cli": 5,
}


def module_files(root=ROOT):
    """`{module name: path}` of every module of the package."""
    modules = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_package(name, modules):
    return modules.get(name, pathlib.Path()).name == "__init__.py"


def _imported(node, name, modules):
    """The package modules an `Import`/`ImportFrom` node refers to."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = name if _is_package(name, modules) else name.rsplit(".", 1)[0]
        for _ in range(node.level - 1):
            package = package.rsplit(".", 1)[0]
        base = f"{package}.{base}" if base else package
    targets = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        targets.append(submodule if submodule in modules else base)
    return targets


def import_graph(modules):
    """`{module: set of package modules it imports}`."""
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[name] = {
            target
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for target in _imported(node, name, modules)
            if target in modules and target != name
        }
    return graph


def _rank(name):
    parts = name.split(".")
    return RANKS[parts[1]] if len(parts) > 1 else max(RANKS.values())


def layer_violations(graph, modules):
    """`(module, target)` imports from a higher layer, `__init__`s exempt."""
    return [
        (name, target)
        for name, targets in sorted(graph.items())
        if not _is_package(name, modules)
        for target in sorted(targets)
        if _rank(target) > _rank(name)
    ]


def find_cycles(graph):
    """The cycles of `graph`, each as a list of modules."""
    cycles = []
    state = {}
    stack = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quiet", action="store_true", help="Print only problems."
    )
    args = parser.parse_args(argv)
    modules = module_files()
    graph = import_graph(modules)
    cycles = find_cycles(graph)
    violations = layer_violations(graph, modules)
    if not args.quiet:
        for name in sorted(graph):
            short = name.removeprefix(f"{PACKAGE}.")
            targets = sorted(t.removeprefix(f"{PACKAGE}.") for t in graph[name])
            print(f"{short} -> {', '.join(targets) or '(nothing)'}")
    for name, target in violations:
        print(f"error: {name} (a lower layer) imports {target}")
    for cycle in cycles:
        print(f"error: import cycle: {' -> '.join(cycle)}")
    edges = sum(len(targets) for targets in graph.values())
    print(
        f"{len(modules)} modules, {edges} imports, {len(cycles)} cycles, "
        f"{len(violations)} imports from a higher layer"
    )
    return 1 if cycles or violations else 0


if __name__ == "__main__":
    sys.exit(main())
