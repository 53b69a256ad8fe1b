"""Delegation found by reading a submission's code on the grader's side.

The tripwires of :mod:`course_lib.grading._guard` run in the student's process, where a
submission can disable them. So the grader also reads the submission's source, which the
student cannot change once submitted, and finds, for each exercise, the code that can run when
its function runs: the function's own definition, the top-level definitions it names (followed
transitively), and the other top-level statements that touch a name it uses.
In that code it flags

- a name that resolves, through imports and assignments, to a forbidden implementation
  (``torch.nn.init.xavier_uniform_`` under any alias, course_lib's copy, a deprecated wrapper
  around either); for exercises that forbid autograd, anything under ``torch.autograd`` or
  ``torch.func`` and the attributes ``backward``, ``grad``, ``grad_fn``;
- machinery that makes code invisible to such a reading: ``exec``, ``eval``, ``compile``,
  ``__import__``, ``getattr`` with a computed name, ``globals()``, ``importlib``, ``inspect``,
  ``gc``, ``ctypes``, function internals (``__code__``, ``__globals__``, ...), frame objects,
  ``sys.modules``, and the grading package itself.

The exercises need none of these, and the assignment's introduction says so. A finding scores
the exercise 0 like a tripped wire, with the reason in the report.
"""

import ast
import importlib
import re
import types
from collections.abc import Callable, Iterable, Sequence

DYNAMIC_CALLS = {
    "exec",
    "eval",
    "compile",
    "__import__",
    "globals",
    "vars",
    "locals",
    "breakpoint",
    "delattr",
    "setattr",
}
DYNAMIC_MODULES = (
    "sys.modules",
    "importlib",
    "inspect",
    "gc",
    "ctypes",
    "marshal",
    "pickle",
    "dill",
    "cloudpickle",
    "runpy",
    "code",
    "codeop",
    "pkgutil",
    "course_lib.grading",
    "IPython",
    "builtins",
    "ipykernel",
    "_thread",
)
DYNAMIC_ATTRIBUTES = {
    "__code__",
    "__globals__",
    "__closure__",
    "__dict__",
    "__builtins__",
    "__subclasses__",
    "__getattribute__",
    "__wrapped__",
    "__func__",
    "__self__",
    "__kwdefaults__",
    "__defaults__",
    "__import__",
    "__loader__",
    "__spec__",
    "f_globals",
    "f_locals",
    "f_back",
    "f_code",
    "gi_frame",
    "cr_frame",
    "tb_frame",
    "func_globals",
    "_getframe",
    "settrace",
    "setprofile",
    "meta_path",
    "path_hooks",
    "FunctionType",
    "CodeType",
    "ModuleType",
    "MethodType",
    "LambdaType",
    "get_ipython",
    "user_ns",
}
AUTOGRAD_PREFIXES = (
    "torch.autograd",
    "torch.func",
    "torch._functorch",
    "functorch",
    "torch._C._functions",
)
AUTOGRAD_ATTRIBUTES = {
    "backward",
    "grad",
    "grad_fn",
    "_grad_fn",
    "register_hook",
    "jvp",
    "vjp",
    "jacrev",
    "jacfwd",
}
TRUSTED_ROOTS = ("torch", "course_lib", "math", "numpy")
_MAGIC = re.compile(r"^\s*[%!].*$", re.MULTILINE)


def _parse(sources: Iterable[str]) -> list[ast.stmt]:
    statements: list[ast.stmt] = []
    for source in sources:
        try:
            statements += ast.parse(_MAGIC.sub("", source)).body
        except SyntaxError:
            continue  # a cell that does not parse does not run either
    return statements


def _dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; ``getattr(a, "b")`` as ``["a", "b"]``; else None."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return base + [node.attr] if base else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    ):
        base = _dotted(node.args[0])
        return base + [node.args[1].value] if base else None
    return None


class _Program:
    """A submission's top-level code: definitions by name, aliases made by imports and
    assignments, and the statements that are neither."""

    def __init__(self, statements: Sequence[ast.stmt]):
        self.definitions: dict[str, list[ast.AST]] = {}
        self.aliases: dict[str, set[str]] = {}
        self.loose: list[ast.stmt] = []
        # ``from m import *`` may rebind any name, the exercise's own included.
        self.star_imports = [
            s.module or ""
            for s in statements
            if isinstance(s, ast.ImportFrom) and any(a.name == "*" for a in s.names)
        ]
        for statement in statements:
            self._add(statement)
        for node in ast.walk(ast.Module(list(statements), [])):
            self._alias(node)

    def _add(self, statement: ast.stmt) -> None:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.definitions.setdefault(statement.name, []).append(statement)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            for name in names:
                self.definitions.setdefault(name, []).append(statement)
            if len(names) != len(targets):
                self.loose.append(statement)
        elif not isinstance(statement, (ast.Import, ast.ImportFrom)):
            self.loose.append(statement)
            # A loop or block that binds a name defines it as much as an assignment does.
            for node in ast.walk(statement):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    self.definitions.setdefault(node.id, []).append(statement)

    def _alias(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.aliases.setdefault(alias.asname, set()).add(alias.name)
                else:
                    root = alias.name.split(".")[0]
                    self.aliases.setdefault(root, set()).add(root)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                name = alias.asname or alias.name
                self.aliases.setdefault(name, set()).add(f"{node.module}.{alias.name}")
        elif (
            isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr))
            and getattr(node, "value", None) is not None
        ):
            path = _dotted(node.value)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if path and isinstance(target, ast.Name):
                    self.aliases.setdefault(target.id, set()).add(".".join(path))

    def resolve(self, path: list[str], depth: int = 0) -> set[str]:
        """The dotted module paths that ``path`` may stand for, through aliases."""
        if depth > 20 or path[0] not in self.aliases:
            return set()
        resolved = set()
        for target in self.aliases[path[0]]:
            parts = target.split(".") + path[1:]
            resolved.add(".".join(parts))
            if parts[0] != path[0]:
                resolved |= self.resolve(parts, depth + 1)
        return resolved

    def reachable(self, name: str, given: Iterable[str] = ()) -> list[ast.AST]:
        """The definitions that can run when the function ``name`` runs (not those of the
        ``given`` names, which the grader replaces by reference helpers during the check)."""
        seen, queue, code = {name, *given}, [name], []
        while queue:
            for definition in self.definitions.get(queue.pop(), []):
                code.append(definition)
                for used in sorted(_free_names(definition)):
                    if used in self.definitions and used not in seen:
                        seen.add(used)
                        queue.append(used)
        return code


def _local_names(code: ast.AST) -> set[str]:
    """Names a function binds itself (its arguments and assignments); none for other code."""
    if not isinstance(code, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return set()
    bound = {
        n.id for n in ast.walk(code) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }
    arguments = (
        a
        for n in ast.walk(code)
        if isinstance(n, ast.arguments)
        for a in (*n.posonlyargs, *n.args, *n.kwonlyargs, n.vararg, n.kwarg)
    )
    return bound | {a.arg for a in arguments if a}


def _free_names(code: ast.AST) -> set[str]:
    """Names ``code`` reads that it does not bind itself: for a function, its globals."""
    loaded = {
        n.id for n in ast.walk(code) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    return loaded - _local_names(code)


def _lookup(path: str) -> object | None:
    """The object a trusted dotted path names (importing only torch, course_lib, math, numpy)."""
    parts = path.split(".")
    if parts[0] not in TRUSTED_ROOTS:
        return None
    for split in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:split]))
        except Exception:
            continue
        try:
            for attribute in parts[split:]:
                value = getattr(value, attribute)
        except AttributeError:
            return None
        return value
    return None


def _wraps(value: object, forbidden: Sequence[Callable]) -> str | None:
    """The name of the forbidden function ``value`` is or wraps (deprecated aliases)."""
    for function in forbidden:
        if value is function:
            return f"{function.__module__}.{function.__qualname__}"
    cells = getattr(value, "__closure__", None) or ()
    for cell in cells:
        try:
            contents = cell.cell_contents
        except ValueError:
            continue
        if isinstance(contents, types.FunctionType) and (found := _wraps(contents, forbidden)):
            return found
    return None


def findings(
    sources: Iterable[str], name: str, forbidden: Sequence[Callable], given: Iterable[str] = ()
) -> list[str]:
    """What, in the code that runs with the function ``name``, uses a forbidden implementation
    or hides what it calls; empty when nothing does."""
    program = _Program(_parse(sources))
    autograd = any(getattr(f, "__module__", "").startswith("torch.autograd") for f in forbidden)
    found = [f"imports * from {module}" for module in program.star_imports]
    reachable = program.reachable(name, given)
    for code in reachable:
        local = _local_names(code)
        for node in ast.walk(code):
            found += _node_findings(node, program, forbidden, autograd, local)
    # Other top-level statements run too. Those that touch a name this function uses (a module,
    # a dictionary it reads) may not hide what they do; they may explore torch's versions freely.
    used = {name}.union(*(_free_names(code) for code in reachable))
    for statement in program.loose:
        if _free_names(statement) & used or any(
            isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id in used
            for n in ast.walk(statement)
        ):
            for node in ast.walk(statement):
                found += [
                    f
                    for f in _node_findings(node, program, (), False)
                    if not f.startswith("calls ")
                ]
    return sorted(set(found))


def _under(path: str, prefixes: Sequence[str]) -> bool:
    return any(path == p or path.startswith(p + ".") for p in prefixes)


def _node_findings(
    node: ast.AST, program: _Program, forbidden, autograd: bool, local: set[str] = frozenset()
) -> list[str]:
    found = []
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in DYNAMIC_CALLS:
            found.append(f"uses {node.func.id}()")
        elif node.func.id == "getattr" and _dotted(node) is None:
            found.append("uses getattr() with a computed name")
    if isinstance(node, ast.Attribute) and node.attr in DYNAMIC_ATTRIBUTES:
        found.append(f"uses .{node.attr}")
    if isinstance(node, ast.Attribute) and autograd and node.attr in AUTOGRAD_ATTRIBUTES:
        found.append(f"uses autograd (.{node.attr})")
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        )
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            found.append(f"imports * from {node.module}")
        found += [f"imports {m}" for m in modules if _under(m, DYNAMIC_MODULES)]
    path = _dotted(node) if isinstance(node, (ast.Name, ast.Attribute, ast.Call)) else None
    if path and path[0] not in local:
        for full in program.resolve(path):
            if _under(full, DYNAMIC_MODULES):
                found.append(f"uses {full}")
            elif autograd and _under(full, AUTOGRAD_PREFIXES):
                found.append(f"uses autograd ({full})")
            elif (name := _wraps(_lookup(full), forbidden)) is not None:
                found.append(f"calls {name}")
    return found
