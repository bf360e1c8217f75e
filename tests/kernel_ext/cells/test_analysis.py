from __future__ import annotations

import time
from textwrap import dedent

import pytest

from kernel_ext.cells._analysis import CellAnalysis, analyze


def case(name: str, source: str, defs: str = "", refs: str = "") -> object:
    """A table row: the cell's source, then its defs and refs as space-separated names."""
    return pytest.param(dedent(source), set(defs.split()), set(refs.split()), id=name)


CASES = [
    # Assignments
    case("assign", "x = 1", defs="x"),
    case("assign-reads-value", "y = x * 2", defs="y", refs="x"),
    case("chained-assign", "a = b = c", defs="a b", refs="c"),
    case("tuple-unpacking", "a, (b, c) = pair", defs="a b c", refs="pair"),
    case("star-unpacking", "first, *rest = items", defs="first rest", refs="items"),
    case("augmented-reads-and-binds", "x += 1", defs="x", refs="x"),
    case("read-before-binding", "x = x + 1", defs="x", refs="x"),
    case("read-after-binding", "x = 1\ny = x", defs="x y"),
    case("read-then-bind-later", "print(x)\nx = 1", defs="x", refs="x"),
    case("annotated-with-value", "x: Model = make()", defs="x", refs="Model make"),
    case("annotated-without-value", "x: int", defs=""),
    case("annotated-attribute", "obj.size: int", refs="obj"),
    case("string-annotation-ignored", "x: 'Frame' = load()", defs="x", refs="load"),
    case("attribute-store", "a.b = value", refs="a value"),
    case("subscript-store", "a[key] = 1", refs="a key"),
    case("attribute-read", "n = df.shape.rows", defs="n", refs="df"),
    # Imports
    case("import", "import os", defs="os"),
    case("import-dotted", "import os.path", defs="os"),
    case("import-as", "import numpy as np", defs="np"),
    case("import-dotted-as", "import matplotlib.pyplot as plt", defs="plt"),
    case("from-import", "from pathlib import Path, PurePath", defs="Path PurePath"),
    case("from-import-as", "from collections import OrderedDict as OD", defs="OD"),
    case("relative-import", "from . import sibling", defs="sibling"),
    case("star-import", "from os.path import *"),
    # Functions and classes
    case("def", "def f(a, *args, b=1, **kw):\n    return a + b", defs="f"),
    case("async-def", "async def fetch():\n    await sleep()", defs="fetch", refs="sleep"),
    case(
        "async-for-and-with",
        "async def main(url, /):\n    async with connect(url) as db:\n"
        "        async for row in db.rows():\n            await sink(row)",
        defs="main",
        refs="connect sink",
    ),
    case("function-locals", "def f():\n    y = 1\n    return y", defs="f"),
    case("local-read-before-binding", "def f():\n    print(y)\n    y = 1", defs="f"),
    case("closure-over-global", "def f():\n    return scale * 2", defs="f", refs="scale"),
    case("closure-over-cell-name", "scale = 2\ndef f():\n    return scale", defs="f scale"),
    case("body-reads-a-later-def", "def f():\n    return g()\ndef g():\n    return 1", defs="f g"),
    case("default-evaluated-outside", "def f(a=x, *, b=y):\n    pass", defs="f", refs="x y"),
    case("defaults-precede-binding", "def f(a=f):\n    pass", defs="f", refs="f"),
    case("annotations-evaluated", "def f(a: In) -> Out:\n    pass", defs="f", refs="In Out"),
    case("local-annotation-not-evaluated", "def f():\n    n: Count = 1", defs="f"),
    case("decorators", "@cache(size)\ndef f():\n    pass", defs="f", refs="cache size"),
    case(
        "nested-functions",
        """
        def outer(a):
            b = a
            def inner():
                return a + b + c
            return inner
        """,
        defs="outer",
        refs="c",
    ),
    case(
        "nonlocal",
        """
        def counter():
            count = 0
            def bump():
                nonlocal count
                count += 1
                return count
            return bump
        """,
        defs="counter",
    ),
    case(
        "global-assigned",
        "def setup():\n    global config\n    config = load()",
        defs="config setup",
        refs="load",
    ),
    case(
        "global-augmented",
        "def bump():\n    global count\n    count += 1",
        defs="bump count",
        refs="count",
    ),
    case(
        "global-read-only",
        "def show():\n    global count\n    print(count)",
        defs="show",
        refs="count",
    ),
    case(
        "global-with-cell-binding",
        "count = 0\ndef bump():\n    global count\n    count += 1",
        defs="bump count",
    ),
    case(
        "enclosing-local-bound-after-inner-def",
        """
        def outer():
            def inner():
                return later
            later = 1
            return inner
        """,
        defs="outer",
    ),
    case(
        "nonlocal-read-only",
        """
        def outer():
            n = 0
            def inner():
                nonlocal n
                return n
        """,
        defs="outer",
    ),
    case(
        "class-in-function-reads-function-local",
        "def f(size):\n    class Box:\n        width = size * unit\n    return Box",
        defs="f",
        refs="unit",
    ),
    case("lambda", "f = lambda a, b=d: a + b + c", defs="f", refs="c d"),
    case(
        "lambda-closes-over-comprehension",
        "fs = [lambda: x * k for x in xs]",
        defs="fs",
        refs="xs k",
    ),
    case(
        "class-body",
        """
        @register
        class Model(Base, metaclass=Meta):
            size = default_size
            scaled = size * 2
            def method(self):
                return size
        """,
        defs="Model",
        refs="register Base Meta default_size size",
    ),
    case("class-local-comprehension", "class A:\n    xs = [1]\n    ys = [x for x in xs]", defs="A"),
    case(
        "class-names-hidden-from-comprehension",
        "class A:\n    n = 2\n    ys = [n for _ in r]",
        defs="A",
        refs="n r",
    ),
    # Comprehensions
    case("list-comprehension", "ys = [x * k for x in xs if x]", defs="ys", refs="xs k"),
    case("set-comprehension", "s = {x for x in xs}", defs="s", refs="xs"),
    case("dict-comprehension", "d = {k: v for k, v in pairs}", defs="d", refs="pairs"),
    case("generator", "total = sum(x for x in xs)", defs="total", refs="xs"),
    case(
        "nested-comprehension",
        "m = [[x * y for y in row] for row in grid for x in row]",
        defs="m",
        refs="grid",
    ),
    case(
        "comprehension-variable-not-leaked", "ys = [x for x in xs]\nz = x", defs="ys z", refs="xs x"
    ),
    case("walrus", "if (n := len(items)) > 3:\n    print(n)", defs="n", refs="items"),
    case(
        "walrus-in-comprehension",
        "ys = [last := x for x in xs]\nprint(last)",
        defs="ys last",
        refs="xs",
    ),
    case(
        "walrus-in-comprehension-in-function",
        "def f():\n    [last := x for x in xs]\n    return last",
        defs="f",
        refs="xs",
    ),
    # Control flow
    case("for-target", "for i, row in enumerate(rows):\n    pass", defs="i row", refs="rows"),
    case("for-else", "for x in xs:\n    break\nelse:\n    done = True", defs="x done", refs="xs"),
    case(
        "with-target",
        "with open(path) as fh, lock:\n    data = fh.read()",
        defs="fh data",
        refs="path lock",
    ),
    # Python deletes an `except ... as err` name when its handler ends: not a def.
    case(
        "except-target",
        "try:\n    run()\nexcept (KeyError, Oops) as err:\n    log(err)",
        refs="run Oops log",
    ),
    case(
        "except-star-target",
        "try:\n    run()\nexcept* (KeyError, Oops) as group:\n    log(group)",
        refs="run Oops log",
    ),
    case(
        "except-target-rebound-in-handler",
        "try:\n    run()\nexcept Oops as err:\n    err = wrap(err)\n    msg = str(err)",
        defs="msg",
        refs="run Oops wrap",
    ),
    case(
        "except-target-read-after-handler",
        "try:\n    run()\nexcept Oops as err:\n    pass\nprint(err)",
        refs="run Oops err",
    ),
    case(
        "except-target-bound-after-handler",
        "try:\n    run()\nexcept Oops as err:\n    pass\nerr = None",
        defs="err",
        refs="run Oops",
    ),
    case(
        "except-target-bound-before-handler",
        "err = None\ntry:\n    run()\nexcept Oops as err:\n    pass\nprint(err)",
        defs="err",
        refs="run Oops",
    ),
    case(
        "except-target-deleted-before-handler",
        "del err\ntry:\n    run()\nexcept Oops as err:\n    pass",
        refs="err run Oops",
    ),
    case(
        "nested-handlers-with-one-name",
        "try:\n    run()\nexcept Oops as err:\n    try:\n        undo()\n"
        "    except Oops as err:\n        pass\n    log(err)",
        refs="run Oops undo log",
    ),
    case(
        "except-target-in-function-stays-local",
        "def f():\n    try:\n        run()\n    except Oops as err:\n        pass\n    return err",
        defs="f",
        refs="run Oops",
    ),
    case(
        "except-target-declared-global",
        "def f():\n    global err\n    try:\n        run()\n    except Oops as err:\n        pass",
        defs="f",
        refs="run Oops",
    ),
    case(
        "except-target-in-class-body",
        "class A:\n    try:\n        run()\n    except Oops as err:\n        pass\n    last = err",
        defs="A",
        refs="run Oops err",
    ),
    case("try-finally", "try:\n    a = f()\nfinally:\n    b = 1", defs="a b", refs="f"),
    case("name-error-not-special", "try:\n    x\nexcept NameError:\n    x = 0", defs="x", refs="x"),
    case("conditional-binding", "if flag:\n    x = 1\nelse:\n    y = 2", defs="x y", refs="flag"),
    case("while", "while pending:\n    item = pending.pop()", defs="item", refs="pending"),
    case(
        "match-captures",
        """
        match command:
            case Point(x=px, y=0) as origin:
                pass
            case [first, *others]:
                pass
            case {"kind": kind, **extra} if kind in allowed:
                pass
            case Color.RED | _:
                pass
        """,
        defs="px origin first others kind extra",
        refs="command Point allowed Color",
    ),
    # Expressions
    case(
        "f-string",
        'label = f"{name!r}: {value:.{digits}f}"',
        defs="label",
        refs="name value digits",
    ),
    case("builtins-excluded", "print(len(xs), sorted(xs))", refs="xs"),
    case("rebound-builtin-is-def", "print = log\nprint(1)", defs="print", refs="log"),
    case("builtin-read-then-rebound", "n = len(xs)\nlen = 3", defs="n len", refs="xs len"),
    case("shell-and-magic-lines", 'get_ipython().system("ls")\ndisplay(df)', refs="df"),
    case("del-attribute-and-item", "del cache[key], obj.field", refs="cache key obj"),
]


@pytest.mark.parametrize(("source", "defs", "refs"), CASES)
def test_defs_and_refs(source: str, defs: set[str], refs: set[str]) -> None:
    analysis = analyze(source)
    assert (set(analysis.defs), set(analysis.refs)) == (defs, refs)


@pytest.mark.parametrize(
    ("source", "defs", "refs", "deleted"),
    [
        pytest.param("x = 1\ndel x", set(), set(), {"x"}, id="bound-then-deleted"),
        pytest.param("del x", set(), {"x"}, {"x"}, id="deletes-another-cells-name"),
        pytest.param("x = 1\ndel x\nx = 2", {"x"}, set(), set(), id="rebound-after-delete"),
        pytest.param("x = 1\ndel x\nprint(x)", set(), {"x"}, {"x"}, id="read-after-delete"),
        pytest.param("def f():\n    y = 1\n    del y", {"f"}, set(), set(), id="local-delete"),
        pytest.param(
            "del err\ntry:\n    run()\nexcept Oops as err:\n    pass",
            set(),
            {"err", "run", "Oops"},
            {"err"},
            id="deleted-then-caught",
        ),
    ],
)
def test_deleted(source: str, defs: set[str], refs: set[str], deleted: set[str]) -> None:
    analysis = analyze(source)
    assert (set(analysis.defs), set(analysis.refs), set(analysis.deleted)) == (
        defs,
        refs,
        deleted,
    )


def test_star_imports_are_reported_in_order() -> None:
    analysis = analyze("from os.path import *\nfrom .local import *\nfrom .. import *\nx = 1")
    assert analysis.star_imports == ("os.path", ".local", "..")
    assert analysis.defs == {"x"}


def test_syntax_error_is_raised_unchanged() -> None:
    with pytest.raises(SyntaxError) as caught:
        analyze("x = (1,\ny = 2\n")
    assert type(caught.value) is SyntaxError
    assert caught.value.lineno == 1


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        pytest.param(
            "x = 1\ny = x", "x=1   # set x\n\n\ny   =   x  \n", True, id="layout-comments"
        ),
        pytest.param("f(a,\n  b)", "f(a, b)", True, id="line-continuation"),
        pytest.param("x = 1", "x = 2", False, id="different-constant"),
        pytest.param("x = 'a'", "x = 'b'  # x = 'a'", False, id="different-string"),
        pytest.param("x = a + b", "x = b + a", False, id="different-order"),
    ],
)
def test_source_key_ignores_layout_only(first: str, second: str, same: bool) -> None:
    assert (analyze(first).source_key == analyze(second).source_key) is same
    assert len(analyze(first).source_key) == 32


def test_long_generated_sum_stays_within_the_recursion_limit() -> None:
    # Each term nests one level deeper; a recursive walk would need two frames per term.
    terms = [f"a{i}" for i in range(600)]
    assert analyze("total = " + " + ".join(terms)).refs == set(terms)


def test_results_are_memoised_and_immutable() -> None:
    source = "memo = 1"
    assert analyze(source) is analyze(source)
    assert isinstance(analyze(source), CellAnalysis)
    with pytest.raises(AttributeError):
        analyze(source).defs = frozenset()  # type: ignore[misc]


TYPICAL_CELL = """
import pandas as pd
import numpy as np
from pathlib import Path

# load the raw data
raw = pd.read_csv(Path(data_dir) / "sales.csv", parse_dates=["date"])
raw = raw[raw["amount"] > threshold]

def clean(frame: pd.DataFrame, *, drop_na: bool = True) -> pd.DataFrame:
    \"\"\"Tidy the frame.\"\"\"
    frame = frame.rename(columns=str.lower)
    if drop_na:
        frame = frame.dropna()
    totals = {k: v.sum() for k, v in frame.groupby("region")["amount"]}
    frame["share"] = frame["region"].map(lambda r: totals[r] / sum(totals.values()))
    return frame

class Summary:
    columns = ["region", "amount"]

    def __init__(self, frame):
        self.frame = frame[self.columns]

    def top(self, n=5):
        return self.frame.nlargest(n, "amount")

cleaned = clean(raw)
summary = Summary(cleaned)
by_month = cleaned.groupby(cleaned["date"].dt.to_period("M"))["amount"].sum()
growth = by_month.pct_change().fillna(0)
labels = [f"{m}: {g:.{precision}%}" for m, g in growth.items()]
for i, label in enumerate(labels):
    if i % 3 == 0:
        print(label)
try:
    best = summary.top(top_n)
except KeyError as error:
    best = None
    print(f"missing column {error}")
finally:
    done = True
with open(report_path, "w") as handle:
    handle.write(str(best))
if (n := len(labels)) > 10:
    print(n, np.mean([len(x) for x in labels]))
get_ipython().run_line_magic("time", "total += 1")
stats = {"count": len(cleaned), "regions": sorted(set(cleaned["region"]))}
total += stats["count"]
del raw
"""


def test_typical_cell() -> None:
    analysis = analyze(TYPICAL_CELL)
    assert analysis.defs == set(
        "Path Summary best by_month clean cleaned done growth handle i label labels n np"
        " pd stats summary total".split()
    )
    assert analysis.refs == {"data_dir", "precision", "report_path", "threshold", "top_n", "total"}
    assert analysis.deleted == {"raw"}


def test_typical_cell_timing_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    # Printed, not asserted: timings on shared CI machines would make the test flaky.
    runs = 200
    start = time.perf_counter()
    for _ in range(runs):
        analyze.__wrapped__(TYPICAL_CELL)
    elapsed = (time.perf_counter() - start) / runs * 1000
    with capsys.disabled():
        print(f"\nanalyze: {elapsed:.3f} ms for a {TYPICAL_CELL.count(chr(10))}-line cell")
