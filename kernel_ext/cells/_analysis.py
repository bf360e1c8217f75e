"""What a notebook cell reads and binds, found from its syntax tree.

The cell graph links a cell that reads a global name to the cells that bind it, so
``analyze`` answers, for one cell's Python source: which global names it binds (``defs``),
which it reads before binding them (``refs``), which it deletes, and which star imports
hide names from us. It follows Python's scoping rules as marimo's ``_ast/visitor.py`` does.

Two clocks matter. Code that runs when the cell runs (module level, class bodies,
comprehensions, decorators, default values, annotations) is read in source order, so
``x = x + 1`` both reads and binds ``x``. Function and lambda bodies run only when called,
usually after the cell has finished, so a module name they read is a ref only if the cell
has not bound it by its end: ``def f(): return helper()`` followed by ``def helper(): ...``
reads nothing from other cells.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

__all__ = ["CellAnalysis", "analyze"]

# IPython puts these in builtins while a cell runs; `!cmd` and `%magic` lines reach us as
# `get_ipython()` calls, which must not make every shell cell depend on another cell.
_AMBIENT = frozenset(dir(builtins)) | {"get_ipython", "display", "exit", "quit"}

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_OWN_SCOPE = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, *_COMPREHENSIONS)


@dataclass(frozen=True, slots=True)
class CellAnalysis:
    """The global names one cell binds, reads and deletes, and a key for its code."""

    defs: frozenset[str]
    refs: frozenset[str]
    deleted: frozenset[str]
    star_imports: tuple[str, ...]
    source_key: str


@lru_cache(maxsize=1024)
def analyze(source: str) -> CellAnalysis:
    """Analyse one cell; a ``SyntaxError`` propagates as ``ast.parse`` raised it."""
    tree = ast.parse(source)
    visitor = _CellVisitor()
    visitor.visit(tree)
    return visitor.result(_source_key(tree))


def _source_key(tree: ast.Module) -> str:
    # The tree carries neither comments nor layout, so reformatting a cell keeps its key.
    dumped = ast.dump(tree, annotate_fields=False, include_attributes=False)
    return hashlib.blake2b(dumped.encode(), digest_size=16).hexdigest()


@dataclass(slots=True)
class _Scope:
    """A scope nested in the cell. A function's ``names`` are all its locals, known before
    its body runs; a class body's or comprehension's are the names bound so far."""

    kind: Literal["function", "class", "comprehension"]
    names: set[str] = field(default_factory=set)
    globals: set[str] = field(default_factory=set)


_DISPATCH: dict[type[ast.AST], Callable[[_CellVisitor, ast.AST], None]] = {}


class _CellVisitor(ast.NodeVisitor):
    """Walks one cell's tree with a stack of nested scopes, the module scope below them."""

    def __init__(self) -> None:
        self._scopes: list[_Scope] = []
        self._function_depth = 0
        self._bound: set[str] = set()  # module names bound at this point of the cell
        self._defs: set[str] = set()
        self._refs: set[str] = set()
        self._deferred_refs: set[str] = set()  # module names read by function bodies
        self._deleted: set[str] = set()
        self._star_imports: list[str] = []

    def result(self, source_key: str) -> CellAnalysis:
        defs = self._defs - self._deleted
        refs = self._refs | (self._deferred_refs - self._bound)
        return CellAnalysis(
            defs=frozenset(defs),
            refs=frozenset(name for name in refs if name not in _AMBIENT or name in defs),
            deleted=frozenset(self._deleted),
            star_imports=tuple(self._star_imports),
            source_key=source_key,
        )

    # Names: every read, binding and deletion ends up in one of these three.

    def _read(self, name: str) -> None:
        innermost = len(self._scopes) - 1
        for depth in range(innermost, -1, -1):
            scope = self._scopes[depth]
            if scope.kind == "class" and depth != innermost:
                continue  # a class body's names are invisible to the scopes nested in it
            if name in scope.globals:
                break
            if name in scope.names:
                return
        if self._function_depth:
            self._deferred_refs.add(name)
        elif name not in self._bound:
            self._refs.add(name)

    def _bind(self, name: str, scope: _Scope | None) -> None:
        if scope is None:
            self._bound.add(name)
            self._defs.add(name)
            self._deleted.discard(name)
        elif name in scope.globals:
            self._defs.add(name)  # bound when the function is called, not by the cell itself
        elif scope.kind != "function":
            scope.names.add(name)

    def _delete(self, name: str) -> None:
        self._read(name)  # `del x` fails unless x exists, so it depends on whoever bound x
        if not self._scopes:
            self._bound.discard(name)
            self._defs.discard(name)
            self._deleted.add(name)
        elif self._scopes[-1].kind != "function":
            self._scopes[-1].names.discard(name)

    def visit(self, node: ast.AST) -> None:
        # NodeVisitor builds a method name for every node it meets; a table per node class
        # keeps the walk inside the magic's time budget.
        method = _DISPATCH.get(type(node))
        if method is None:
            name = "visit_" + type(node).__name__
            method = _DISPATCH[type(node)] = getattr(_CellVisitor, name, _CellVisitor.generic_visit)
        method(self, node)

    def generic_visit(self, node: ast.AST) -> None:
        for name in node._fields:  # the hottest loop: no intermediate list or generator
            value = getattr(node, name, None)
            if isinstance(value, ast.AST):
                self.visit(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)

    def visit_Constant(self, node: ast.Constant) -> None:
        pass  # NodeVisitor's own visit_Constant looks for deprecated visit_Num and friends

    def _current(self) -> _Scope | None:
        return self._scopes[-1] if self._scopes else None

    def _visit_all(self, nodes: Iterable[ast.AST | None]) -> None:
        for node in nodes:
            if node is not None:
                self.visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._read(node.id)
        elif isinstance(node.ctx, ast.Store):
            self._bind(node.id, self._current())
        else:
            self._delete(node.id)

    # Statements whose parts Python evaluates in another order than the tree's fields.

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        self._visit_all(node.targets)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self._read(node.target.id)
        self.visit(node.value)
        self.visit(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        # `x: int` alone binds nothing; `a.b: int` still evaluates `a`.
        if node.value is not None or not isinstance(node.target, ast.Name):
            self._visit_all((node.value, node.target))
        if not self._scopes or self._scopes[-1].kind != "function":
            self.visit(node.annotation)  # function bodies never evaluate local annotations

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._visit_all((node.iter, node.target, *node.body, *node.orelse))

    visit_AsyncFor = visit_For

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._bind(alias.asname or alias.name.partition(".")[0], self._current())

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self._star_imports.append("." * node.level + (node.module or ""))
            else:
                self._bind(alias.asname or alias.name, self._current())

    def visit_Global(self, node: ast.Global) -> None:
        if self._scopes:  # functions know theirs already; this serves class bodies
            self._scopes[-1].globals.update(node.names)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self._visit_all((node.type,))
        if node.name:
            self._bind(node.name, self._current())
        self._visit_all(node.body)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        self._visit_all((node.pattern,))
        if node.name:
            self._bind(node.name, self._current())

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._bind(node.name, self._current())

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self._visit_all((*node.keys, *node.patterns))
        if node.rest:
            self._bind(node.rest, self._current())

    # Scopes.

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._visit_all(node.decorator_list)
        self._visit_signature(node.args, node.returns)
        self._bind(node.name, self._current())
        self._visit_function_body(node.args, node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_signature(node.args, None)
        self._visit_function_body(node.args, [node.body])

    def _visit_signature(self, args: ast.arguments, returns: ast.expr | None) -> None:
        # Defaults and annotations are evaluated where the function is defined.
        annotations = [parameter.annotation for parameter in _parameters(args)]
        self._visit_all((*args.defaults, *args.kw_defaults, *annotations, returns))

    def _visit_function_body(self, args: ast.arguments, body: Sequence[ast.AST]) -> None:
        self._scopes.append(_function_scope(args, body))
        self._function_depth += 1
        self._visit_all(body)
        self._function_depth -= 1
        self._scopes.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._visit_all((*node.decorator_list, *node.bases, *node.keywords))
        self._scopes.append(_Scope("class"))
        self._visit_all(node.body)
        self._scopes.pop()
        self._bind(node.name, self._current())

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        # PEP 572: a walrus in a comprehension binds in the scope around the comprehension.
        scopes = (s for s in reversed(self._scopes) if s.kind != "comprehension")
        self._bind(node.target.id, next(scopes, None))

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self._visit_comprehension(node.generators, node.elt)

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._visit_comprehension(node.generators, node.key, node.value)

    def _visit_comprehension(self, generators: list[ast.comprehension], *results: ast.expr) -> None:
        self.visit(generators[0].iter)  # the first iterable is evaluated outside
        self._scopes.append(_Scope("comprehension"))
        for index, generator in enumerate(generators):
            self._visit_all((generator.iter if index else None, generator.target, *generator.ifs))
        self._visit_all(results)
        self._scopes.pop()


def _function_scope(args: ast.arguments, body: Sequence[ast.AST]) -> _Scope:
    """Python fixes a function's locals before running it: every name bound anywhere in its
    body, bar those declared global or nonlocal. So a read before the binding is still local."""
    names = {parameter.arg for parameter in _parameters(args)}
    declared_global: set[str] = set()
    declared_nonlocal: set[str] = set()
    pending = list(body)
    while pending:
        node = pending.pop()
        names.update(_bound_by(node))
        if isinstance(node, ast.Global):
            declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            declared_nonlocal.update(node.names)
        if not isinstance(node, _OWN_SCOPE):
            pending.extend(_children(node))
    return _Scope("function", names - declared_global - declared_nonlocal, declared_global)


def _bound_by(node: ast.AST) -> Iterable[str]:
    """Names a node binds in the scope it appears in (not counting its children)."""
    if isinstance(node, ast.Name):
        return () if isinstance(node.ctx, ast.Load) else (node.id,)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return (node.name,)
    if isinstance(node, _COMPREHENSIONS):  # PEP 572: walrus targets leak out
        return (n.target.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr))
    if isinstance(node, ast.Import):
        return (a.asname or a.name.partition(".")[0] for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return (a.asname or a.name for a in node.names if a.name != "*")
    if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
        return (node.name,)
    if isinstance(node, ast.MatchMapping) and node.rest:
        return (node.rest,)
    return ()


def _parameters(args: ast.arguments) -> list[ast.arg]:
    optional = (args.vararg, args.kwarg)
    return [*args.posonlyargs, *args.args, *args.kwonlyargs, *(a for a in optional if a)]


def _children(node: ast.AST) -> list[ast.AST]:
    """``ast.iter_child_nodes``, without its two generators per node."""
    children: list[ast.AST] = []
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            children.append(value)
        elif isinstance(value, list):
            children.extend(item for item in value if isinstance(item, ast.AST))
    return children
