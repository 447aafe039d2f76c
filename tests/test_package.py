"""The package as a whole: no import circles, and a light ``import locograd``."""
import ast
import pathlib
import subprocess
import sys

import locograd

PACKAGE = pathlib.Path(locograd.__file__).parent


def _modules() -> dict[str, tuple[pathlib.Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["locograd", *path.relative_to(PACKAGE).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _import_time_statements(tree):
    """Import statements run when the module is imported: module level, including inside
    top-level ``try``/``if`` blocks, but not ``if TYPE_CHECKING:`` nor function bodies."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                stack.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            stack.extend(node.body + node.orelse + node.finalbody +
                         [n for handler in node.handlers for n in handler.body])


def _import_graph() -> dict[str, set[str]]:
    """Module -> the locograd modules it imports at import time."""
    modules = _modules()
    graph = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        targets = set()
        for node in _import_time_statements(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
                continue
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            submodules = {f"{source}.{a.name}" for a in node.names} & modules.keys()
            # ``from pkg import sub`` imports the submodule; ``from pkg import name`` runs pkg
            targets |= submodules if len(submodules) == len(node.names) else {source, *submodules}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _find_cycle(graph):
    """One import cycle as a list of modules, or None (iterative depth-first search)."""
    state = {}  # 1: on the current path, 2: finished
    for root in sorted(graph):
        if root in state:
            continue
        path, iterators = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while path:
            child = next(iterators[-1], None)
            if child is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif child not in state:
                state[child] = 1
                path.append(child)
                iterators.append(iter(sorted(graph[child])))
    return None


def test_the_import_graph_is_read_correctly():
    graph = _import_graph()
    assert len(graph) > 50
    assert "locograd.autograd.function" in graph["locograd.autograd.engine"]
    assert "locograd.ops" in graph["locograd.nn.functional"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_circles_inside_the_package():
    cycle = _find_cycle(_import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_import_locograd_loads_no_heavy_dependency():
    heavy = ["matplotlib", "scipy", "sklearn", "safetensors", "tqdm", "graphviz", "torch"]
    code = ("import sys, locograd; "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]", f"import locograd loaded {result.stdout.strip()}"
