"""Running a ``%%task`` cell again: what depends on the cell's text alone is worked out once
(its options, IPython's transforms of its code, the compiled code, its task), and what must
happen at every run still does."""

from __future__ import annotations

import warnings
from typing import Any


def run(shell: Any, source: str) -> Any:
    return shell.run_cell(source, store_history=True)


def task_runs(shell: Any) -> list[dict[str, Any]]:
    from kernel_ext.store import get_store

    store = get_store()
    store.flush()
    (run_row,) = store.list_flow_runs()
    return store.read_flow_run(run_row["id"])["task_runs"]  # type: ignore[no-any-return]


def test_every_run_of_the_same_cell_is_a_task_run_with_its_states(shell: Any) -> None:
    from kernel_ext.store import get_store

    run(shell, "source = [1, 2, 3]")
    for _ in range(3):
        assert run(shell, "%%task add_up\ntotal = sum(source)\nfirst = source[0]").success
    runs = task_runs(shell)
    assert sorted(r["name"] for r in runs) == ["add_up-0", "add_up-1", "add_up-2"]
    assert len({r["id"] for r in runs}) == 3
    for task_run in runs:
        history = [s["name"] for s in get_store().read_history(task_run["id"])]
        assert history == ["Pending", "Running", "Completed"]


def test_a_run_takes_the_options_of_its_line(shell: Any) -> None:
    run(shell, "attempts = []")
    body = "attempts.append(1)\nif len(attempts) < 3:\n    raise ValueError('not yet')"
    assert not run(shell, f"%%task flaky\n{body}").success
    assert run(shell, f"%%task flaky --retries 2 --retry-delay 0\n{body}").success
    assert [r["run_count"] for r in sorted(task_runs(shell), key=lambda r: r["name"])] == [1, 2]


def test_a_cached_cell_run_again_with_other_inputs_uses_their_key(shell: Any) -> None:
    cell = "%%task square --cache\nsquared = base ** 2"
    for base in (3, 4, 3):
        run(shell, f"base = {base}")
        assert run(shell, cell).success
        assert shell.user_ns["squared"] == base**2
    states = [r["state"] for r in sorted(task_runs(shell), key=lambda r: r["name"])]
    assert states == ["Completed", "Completed", "Cached"]


def test_magics_in_the_body_run_at_every_run(shell: Any) -> None:
    calls: list[str] = []
    shell.register_magic_function(calls.append, "line", "count")
    for _ in range(2):
        assert run(shell, "%%task counted\n%count here\nx = 1").success
    assert calls == ["here", "here"]


def test_a_one_line_body_is_transformed_with_the_namespace_of_its_run(shell: Any) -> None:
    # IPython turns a lone magic name into a magic call unless a variable shadows it.
    calls: list[str] = []
    shell.register_magic_function(calls.append, "line", "count")
    assert run(shell, "%%task lone\ncount").success
    run(shell, "count = 5")
    assert run(shell, "%%task lone\ncount").success
    assert calls == [""]


def test_an_extension_transform_runs_at_every_run(shell: Any) -> None:
    runs = iter(range(1, 100))

    def numbered(lines: list[str]) -> list[str]:  # the body's lines, not the magic call's
        return [f"x = {next(runs)}\n" if line.startswith("x = RUN") else line for line in lines]

    shell.input_transformers_post.append(numbered)
    try:
        values = []
        for _ in range(2):
            assert run(shell, "%%task stamped\nx = RUN\ny = x").success
            values.append(shell.user_ns["x"])
        assert values == [1, 2]
    finally:
        shell.input_transformers_post.remove(numbered)


def test_a_traceback_shows_the_cell_of_its_own_execution(shell: Any) -> None:
    cell = "%%task boom\ndef inner():\n    raise ValueError('boom')\ninner()"
    for _ in range(2):
        result = run(shell, cell)
        assert isinstance(result.error_in_exec, ValueError)
        numbers = shell.compile._filename_map
        tb = result.error_in_exec.__traceback__
        frames = []
        while tb is not None:
            frames.append(tb.tb_frame.f_code)
            tb = tb.tb_next
        cell_frames = frames[-2:]  # the cell's code, then the function it defines
        assert [c.co_name for c in cell_frames] == ["<module>", "inner"]
        assert {numbers.get(c.co_filename) for c in cell_frames} == {result.execution_count}


def test_a_compiler_warning_shows_at_every_run(shell: Any) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            assert run(shell, "%%task literal\nx = 1\nsame = x is 1").success
    shown = [w for w in caught if issubclass(w.category, SyntaxWarning)]
    assert len(shown) == 2


def test_a_syntax_error_is_shown_at_every_run(shell: Any, capsys: Any) -> None:
    for _ in range(2):
        run(shell, "%%task broken\nx = (1,")
        captured = capsys.readouterr()
        assert "SyntaxError" in captured.out + captured.err
    assert shell.run_line_magic("tasks", "--json") == []


def test_a_plain_cell_that_rebinds_an_output_breaks_its_lineage(shell: Any) -> None:
    run(shell, "%%task make\nvalue = 1")
    run(shell, "%%task use\ndoubled = value * 2")
    runner = shell.magics_manager.registry["TaskbookMagics"].runner
    assert runner.graph.producers["value"] == "make"
    for _ in range(2):  # the same plain cell twice: its analysis is kept, its effect is not
        run(shell, "value = 10\nother = 3")
        assert "value" not in runner.graph.producers
        run(shell, "%%task make\nvalue = 1")
        assert runner.graph.producers["value"] == "make"


def test_a_cell_run_from_the_code_of_a_cell_of_its_name_leaves_that_cell_its_code(
    shell: Any,
) -> None:
    # Both runs are of the task of cell "same"; the outer run's retry runs the outer code.
    line = "%%task same --retries 1 --retry-delay 0"
    shell.user_ns["inner"] = f"{line}\nlog.append('inner')"
    outer = (
        f"{line}\nlog.append('outer')\nif log.count('outer') == 1:\n"
        "    get_ipython().run_cell(inner)\n    raise ValueError('again')"
    )
    run(shell, "log = []")
    assert run(shell, outer).success
    assert shell.user_ns["log"] == ["outer", "inner", "outer"]
