"""Migrations: applied on first use, once, from an older store too, and refused when the
store is newer."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, insert, inspect, text
from sqlalchemy.engine import Engine

from kernel_ext._errors import StoreSchemaError
from kernel_ext._states import State, StateType
from kernel_ext.store import Store
from kernel_ext.store._engine import create_store_engine, write_engine
from kernel_ext.store._schema import SCHEMA_REVISION, alembic_config, current_revision
from kernel_ext.store._tables import flow_runs, metadata
from kernel_ext.store._types import render_item
from tests.store.helpers import promote, schedule_run

DEPLOYMENT_TABLES = {"deployments", "deployment_versions", "schedules"}


def test_schema_revision_is_alembics_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [SCHEMA_REVISION]


def test_migrations_create_exactly_the_tables_in_code(store_url: str) -> None:
    engine = create_store_engine(store_url)
    _migrate_to(engine, "head")  # every migration as written, from an empty database
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        assert current_revision(engine) == SCHEMA_REVISION
    engine.dispose()


def test_a_drafted_migration_spells_json_as_the_migrations_do() -> None:
    # The JSON columns pick JSONB on PostgreSQL themselves (so a SQLite store never
    # imports PostgreSQL's dialect); a draft writes them as the migrations always have.
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"render_item": render_item})
        script = produce_migrations(context, metadata).upgrade_ops
        assert script is not None
        draft = render_python_code(script, render_item=render_item)
    engine.dispose()
    spelled = (
        "sa.Column('parameters', sa.JSON(none_as_null=True)"
        '.with_variant(postgresql.JSONB(none_as_null=True), "postgresql"), nullable=True)'
    )
    assert spelled in draft
    assert "_Json" not in draft


def test_an_empty_store_is_created_at_head_in_one_step(store_url: str) -> None:
    code = (
        "import sys; from kernel_ext.store import Store; "
        f"Store({store_url!r}).close(); print('alembic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"  # no migration was replayed
    engine = create_store_engine(store_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    assert current_revision(engine) == SCHEMA_REVISION
    _migrate_to(engine, "0004", downgrade=True)  # the migrations know the tables it made
    _migrate_to(engine, "head")
    assert current_revision(engine) == SCHEMA_REVISION
    engine.dispose()


def test_a_store_from_a_newer_taskbook_is_refused(store_url: str) -> None:
    Store(store_url).close()
    engine = create_store_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0042'"))
    engine.dispose()

    with pytest.raises(StoreSchemaError) as caught:
        Store(store_url)
    message = str(caught.value)
    assert "newer Taskbook (schema 0042" in message
    assert "pip install -U taskbook" in message
    assert "TASKBOOK_STORE_URL" in message


def test_an_up_to_date_store_opens_without_alembic(store_url: str) -> None:
    Store(store_url).close()
    code = (
        "import sys; from kernel_ext.store import Store; "
        f"Store({store_url!r}).close(); print('alembic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_concurrent_first_use_migrates_once(store_url: str) -> None:
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_store() -> None:
        barrier.wait()
        try:
            Store(store_url).close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = create_store_engine(store_url)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert [v for (v,) in versions] == [SCHEMA_REVISION]


def _migrate_to(engine: Engine, revision: str, downgrade: bool = False) -> None:
    """Move the store to ``revision`` with the migrations as they were written."""
    config = alembic_config()
    with write_engine(engine).begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(config, revision)


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def _columns(engine: Engine, table: str) -> set[str]:
    with engine.connect() as connection:
        return {column["name"] for column in inspect(connection).get_columns(table)}


def test_a_store_at_0001_is_migrated_on_open_and_keeps_its_rows(store_url: str) -> None:
    engine = create_store_engine(store_url)
    _migrate_to(engine, "0001")
    assert "run_inputs" not in _tables(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(flow_runs).values(
                id="run-1",
                name="deploy-run",
                flow_name="deploy",
                state_type="PAUSED",
                state_name="Paused",
                run_count=1,
                created=datetime.now(UTC),
            )
        )

    with Store(store_url) as store:
        assert current_revision(engine) == SCHEMA_REVISION
        assert "run_inputs" in _tables(engine)
        assert store.read_flow_run("run-1")["state"] == "Paused"
        store.create_input_request(
            id="req-1", flow_run_id="run-1", key="review", schema={}, timeout_at=None
        )
        assert store.list_input_requests()[0]["flow_run_name"] == "deploy-run"
    engine.dispose()


def test_0002_downgrades_to_0001_and_back(store: Store) -> None:
    store.create_input_request(id="req-1", flow_run_id="run-1", key="k", schema={})
    engine = create_store_engine(store.url)
    _migrate_to(engine, "0001", downgrade=True)
    assert "run_inputs" not in _tables(engine)
    assert {"flow_runs", "task_runs", "state_history", "logs", "results"} <= _tables(engine)
    _migrate_to(engine, "head")
    assert current_revision(engine) == SCHEMA_REVISION
    assert store.list_input_requests() == []
    engine.dispose()


def test_a_store_at_0002_is_migrated_on_open_and_keeps_its_rows(store_url: str) -> None:
    engine = create_store_engine(store_url)
    _migrate_to(engine, "0002")
    assert not DEPLOYMENT_TABLES & _tables(engine)
    assert "slot_key" not in _columns(engine, "flow_runs")
    with engine.begin() as connection:
        connection.execute(
            insert(flow_runs).values(
                id="run-1",
                name="deploy-run",
                flow_name="deploy",
                state_type="PAUSED",
                state_name="Paused",
                run_count=1,
                created=datetime.now(UTC),
            )
        )
    engine.dispose()
    Store(store_url).close()  # an older kernel would have written this store before

    with Store(store_url) as store:
        assert current_revision(engine) == SCHEMA_REVISION
        assert DEPLOYMENT_TABLES <= _tables(engine)
        old = store.read_flow_run("run-1")
        assert (old["state"], old["deployment_id"], old["slot_key"]) == ("Paused", None, None)
        deployment = promote(store, "nightly")
        run = schedule_run(store, deployment, slot_key="s:1")
        assert run is not None
        claimed = store.claim_next_run("w1", datetime.now(UTC).timestamp())
        assert claimed is not None and claimed["id"] == run["id"]
    engine.dispose()


def test_0003_downgrades_to_0002_and_back(store: Store) -> None:
    deployment = promote(store, "nightly")
    run = schedule_run(store, deployment, slot_key="s:1")
    assert run is not None
    engine = create_store_engine(store.url)
    _migrate_to(engine, "0002", downgrade=True)
    assert not DEPLOYMENT_TABLES & _tables(engine)
    assert {"slot_key", "deployment_id", "scheduled_time"}.isdisjoint(_columns(engine, "flow_runs"))
    with engine.connect() as connection:
        names = connection.execute(text("SELECT name FROM flow_runs")).scalars().all()
    assert names == [run["name"]]  # the runs stay, without their deployment columns

    _migrate_to(engine, "head")
    assert current_revision(engine) == SCHEMA_REVISION
    assert store.read_flow_run(run["id"])["deployment_id"] is None
    assert store.list_deployments() == []
    engine.dispose()


def test_0004_downgrades_to_0003_and_back(store: Store) -> None:
    store.set_limit("openai", 2)
    engine = create_store_engine(store.url)
    _migrate_to(engine, "0003", downgrade=True)
    assert {"concurrency_limits", "concurrency_leases"}.isdisjoint(_tables(engine))
    _migrate_to(engine, "head")
    assert current_revision(engine) == SCHEMA_REVISION
    assert store.list_limits() == []
    engine.dispose()


def test_0004_gives_running_deployment_runs_their_slots(store: Store) -> None:
    deployment = promote(store, "limited", concurrency_limit=2)
    running = schedule_run(store, deployment, slot_key="s:1")
    assert running is not None
    store.set_run_state(running["id"], State(StateType.RUNNING, "Running"))
    engine = create_store_engine(store.url)
    _migrate_to(engine, "0003", downgrade=True)
    _migrate_to(engine, "head")
    engine.dispose()
    record = store.read_limit("deployment:limited")
    assert (record["slots"], record["used"]) == (2, 1)
    assert [lease["id"] for lease in record["leases"]] == [running["id"]]


def test_the_package_reaches_its_store_as_an_attribute() -> None:
    code = "import kernel_ext; print(callable(kernel_ext.store.get_store), kernel_ext.engine)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("True <module 'kernel_ext.engine'")


def _sqlite_only(store_url: str) -> None:
    if not store_url.startswith("sqlite"):
        pytest.skip("PostgreSQL keeps timestamptz: 0010 changes only an index there")


def test_a_store_at_0009_gets_its_text_times_as_epoch_seconds(store_url: str) -> None:
    _sqlite_only(store_url)
    engine = create_store_engine(store_url)
    _migrate_to(engine, "0009")
    with engine.begin() as connection:  # as 0009's writer stored times: naive UTC text
        connection.exec_driver_sql(
            "INSERT INTO flow_runs (id, name, flow_name, state_type, state_name, run_count, "
            "start_time, end_time, created) VALUES ('run-1', 'old-run', 'etl', 'COMPLETED', "
            "'Completed', 1, '2026-11-30 10:00:00.000001', '2026-11-30 10:00:02.500000', "
            "'2026-11-30 09:59:59.999999')"
        )
        connection.exec_driver_sql(
            "INSERT INTO state_history (run_id, run_kind, type, name, timestamp) "
            "VALUES ('run-1', 'flow', 'COMPLETED', 'Completed', '2026-11-30 10:00:02.500000')"
        )
    engine.dispose()

    with Store(store_url) as store:
        assert current_revision(engine) == SCHEMA_REVISION
        run = store.read_flow_run("run-1")
        assert run["start_time"] == "2026-11-30T10:00:00.000001+00:00"
        assert run["created"] == "2026-11-30T09:59:59.999999+00:00"
        assert store.read_history("run-1")[0]["timestamp"] == "2026-11-30T10:00:02.500000+00:00"
        window = {
            "since": datetime(2026, 11, 30, 9, 59, 59, 999999, tzinfo=UTC),
            "until": datetime(2026, 11, 30, 10, tzinfo=UTC),
        }
        assert [r["id"] for r in store.list_flow_runs(**window)] == ["run-1"]
        later = {**window, "since": datetime(2026, 11, 30, 10, tzinfo=UTC)}
        assert store.list_flow_runs(**later) == []
    with engine.connect() as connection:
        stored = connection.exec_driver_sql(
            "SELECT typeof(start_time), start_time FROM flow_runs"
        ).one()
        indexes = {i["name"] for i in inspect(connection).get_indexes("task_runs")}
    assert stored == ("real", 1796032800.000001)
    assert "ix_task_runs_cache_key" not in indexes

    _migrate_to(engine, "0009", downgrade=True)
    with engine.connect() as connection:
        text_time = connection.exec_driver_sql("SELECT start_time FROM flow_runs").scalar()
        indexes = {i["name"] for i in inspect(connection).get_indexes("task_runs")}
    assert text_time == "2026-11-30 10:00:00.000001"
    assert "ix_task_runs_cache_key" in indexes
    engine.dispose()


def test_a_time_written_as_text_by_a_process_of_an_older_version_still_reads(
    store_url: str,
) -> None:
    """A process started before the upgrade may still write a time as text (0009's way):
    reading that row does not fail."""
    _sqlite_only(store_url)
    with Store(store_url) as store:
        engine = create_store_engine(store_url)
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO flow_runs (id, name, flow_name, state_type, state_name, "
                "run_count, created) VALUES ('run-1', 'late-writer', 'etl', 'RUNNING', "
                "'Running', 1, '2026-11-30 10:00:00.000001')"
            )
        engine.dispose()
        assert store.read_flow_run("run-1")["created"] == "2026-11-30T10:00:00.000001+00:00"
        assert [r["id"] for r in store.list_flow_runs()] == ["run-1"]
