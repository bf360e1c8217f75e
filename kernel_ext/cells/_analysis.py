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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

__all__ = ["CellAnalysis", "analyze"]

# IPython puts these in builtins while a cell runs; `!cmd` and `%magic` lines reach us as
# `get_ipython()` calls, which must not make every shell cell depend on another cell.
_AMBIENT = frozenset(dir(builtins)) | {"get_ipython", "display", "exit", "quit"}


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
    """A scope nested in the cell and the names bound in it so far. A name bound anywhere in
    a function is local to all of it, so a function's reads of names it has not bound yet
    wait in ``free`` until its end."""

    kind: Literal["function", "class", "comprehension"]
    names: set[str] = field(default_factory=set)
    globals: set[str] = field(default_factory=set)
    free: set[str] = field(default_factory=set)


_DISPATCH: dict[type[ast.AST], Callable[[_CellVisitor, ast.AST], None]] = {}


class _CellVisitor(ast.NodeVisitor):
    """Walks one cell's tree with a stack of nested scopes, the module scope below them."""

    def __init__(self) -> None:
        self._scopes: list[_Scope] = []
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

    # Names: every read, binding and deletion ends up in one of these.

    def _read(self, name: str) -> None:
        self._resolve(name, len(self._scopes) - 1, nested=False)

    def _resolve(self, name: str, depth: int, nested: bool) -> None:
        """Find the scope of a name read in ``self._scopes[depth]``, or in a function nested in
        it (``nested``): a read that reaches the module from a function happens when called."""
        for index in range(depth, -1, -1):
            scope = self._scopes[index]
            if scope.kind == "class" and (nested or index != depth):
                continue  # a class body's names are invisible to the scopes nested in it
            if name in scope.globals:
                nested = nested or any(s.kind == "function" for s in self._scopes[: index + 1])
                break
            if name in scope.names:
                return
            if scope.kind == "function":
                scope.free.add(name)
                return
        if nested:
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
        else:
            scope.names.add(name)  # for a `nonlocal` name too: it is not global either way

    def _delete(self, name: str) -> None:
        self._read(name)  # `del x` fails unless x exists, so it depends on whoever bound x
        scope = self._current()
        if scope is None:
            self._bound.discard(name)
            self._defs.discard(name)
            self._deleted.add(name)
        elif scope.kind == "function":
            scope.names.add(name)  # like any binding, `del` makes the name local
        else:
            scope.names.discard(name)

    def _current(self) -> _Scope | None:
        return self._scopes[-1] if self._scopes else None

    def _in_function(self) -> bool:
        return bool(self._scopes) and self._scopes[-1].kind == "function"

    # Walking.

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

    def _visit_all(self, nodes: Iterable[ast.AST | None]) -> None:
        for node in nodes:
            if node is not None:
                self.visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        pass  # NodeVisitor's own visit_Constant looks for deprecated visit_Num and friends

    def visit_BinOp(self, node: ast.BinOp) -> None:
        # `a + b + ... + z` nests to the left, one level a term: walk that spine in a loop so
        # that long generated sums stay within the recursion limit.
        rights: list[ast.expr] = []
        operand: ast.expr = node
        while isinstance(operand, ast.BinOp):
            rights.append(operand.right)
            operand = operand.left
        self.visit(operand)
        self._visit_all(reversed(rights))

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
        # `x: int` alone binds nothing, yet makes x local to a function; `a.b: int` reads `a`.
        in_function = self._in_function()
        if node.value is not None or in_function or not isinstance(node.target, ast.Name):
            self._visit_all((node.value, node.target))
        if not in_function:
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
        if self._scopes:  # `global` at module level changes nothing
            self._scopes[-1].globals.update(node.names)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        # For `except` and `except*` alike (a TryStar's handlers are ExceptHandlers too).
        self._visit_all((node.type,))
        if not node.name:
            self._visit_all(node.body)
            return
        restore = self._handler_target(node.name)
        self._visit_all(node.body)
        restore()

    def _handler_target(self, name: str) -> Callable[[], None]:
        """Bind the ``as`` name of an except handler; the function returned undoes that.

        Python deletes the name when the handler ends (as if by ``err = None; del err``),
        so whatever the handler binds it to never outlives the handler. The handler may
        not run, though: at its end the name is put back as it was before it. So it is a
        def only if the cell binds it outside handlers too, and a read of it after the
        handler is a ref unless the cell bound it before. In a function the name stays
        local (any binding makes it local to all of the function): nothing to undo.
        """
        scope = self._current()
        if scope is None or name in scope.globals:
            restore = _membership_keeper(name, self._bound, self._defs, self._deleted)
        elif scope.kind == "function":
            restore = _keep_nothing
        else:
            restore = _membership_keeper(name, scope.names)
        self._bind(name, scope)
        return restore

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

    def _visit_function_body(self, args: ast.arguments, body: Iterable[ast.AST]) -> None:
        scope = _Scope("function", {parameter.arg for parameter in _parameters(args)})
        self._scopes.append(scope)
        self._visit_all(body)
        self._scopes.pop()
        for name in scope.free - scope.names:
            self._resolve(name, len(self._scopes) - 1, nested=True)

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


def _membership_keeper(name: str, *sets: set[str]) -> Callable[[], None]:
    """A function that puts ``name`` back in or out of each of ``sets`` as it is now."""
    members = [(names, name in names) for names in sets]

    def restore() -> None:
        for names, member in members:
            if member:
                names.add(name)
            else:
                names.discard(name)

    return restore


def _keep_nothing() -> None:
    """What ``_handler_target`` undoes for a function's local name: nothing."""


def _parameters(args: ast.arguments) -> list[ast.arg]:
    optional = (args.vararg, args.kwarg)
    return [*args.posonlyargs, *args.args, *args.kwonlyargs, *(a for a in optional if a)]
