"""``Secret`` as Prefect documents it, kept encrypted in the store (SQLite and PostgreSQL),
its key, profiles, and its value masked in logs, prints and states once loaded."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import Secret as PydanticSecret
from pydantic import SecretStr
from sqlalchemy import create_engine, select, update

from kernel_ext import Secret, _redaction, _secret_box, _settings, flow, get_run_logger, task
from kernel_ext._errors import (
    ConfigurationError,
    InvalidNameError,
    SecretAlreadyExists,
    SecretNotFound,
)
from kernel_ext.store._tables import secrets as secrets_table
from tests.kernel_ext.helpers import last_flow_run

VALUE = "sk-live-4f9a2c71e0d3"

# The tests save to PostgreSQL with a key file; the one test about that warning asks for it.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Secret .* is encrypted with this machine's key file:UserWarning"
)


@pytest.fixture(autouse=True)
def _mask_nothing_before_or_after() -> Iterator[None]:
    _redaction.forget_all()
    yield
    _redaction.forget_all()


def raw_rows(store: Any) -> dict[str, str]:
    """The secrets table as the database holds it, read past the store."""
    engine = create_engine(store.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(secrets_table.c.name, secrets_table.c.ciphertext))
            return {row.name: row.ciphertext for row in rows}
    finally:
        engine.dispose()


@pytest.mark.parametrize("value", [VALUE, {"user": "etl", "password": "pw-93xk"}, ["a-b", "c-d"]])
def test_a_secret_round_trips_and_is_masked_when_shown(store: Any, value: Any) -> None:
    Secret(value=value).save("warehouse")
    loaded = Secret.load("warehouse")
    assert isinstance(loaded.value, PydanticSecret)
    assert loaded.get() == value
    assert repr(loaded) == str(loaded) == "Secret(value=Secret('**********'))"
    assert loaded.model_dump(mode="json") == {"value": "**********"}


def test_a_secretstr_round_trips_and_strings_of_json_come_back_decoded(store: Any) -> None:
    Secret(value=SecretStr("plain-text")).save("a")
    assert Secret.load("a").get() == "plain-text"
    assert repr(Secret(value=SecretStr("x"))) == "Secret(value=SecretStr('**********'))"
    # Prefect's get(): a string holding JSON is decoded.
    assert Secret(value="123").get() == 123
    assert Secret(value='{"a": 1}').get() == {"a": 1}
    assert Secret(value="sk-123").get() == "sk-123"


def test_the_value_is_encrypted_at_rest(store: Any, home: Path) -> None:
    Secret(value={"password": VALUE}).save("warehouse")
    token = raw_rows(store)["warehouse"]
    assert VALUE not in token and "password" not in token
    key = (home / _secret_box.KEY_FILE).read_bytes().strip()
    assert json.loads(Fernet(key).decrypt(token.encode())) == {
        "name": "warehouse",
        "value": {"password": VALUE},
    }


def test_the_key_file_is_made_once_and_readable_by_its_owner_only(store: Any, home: Path) -> None:
    Secret(value=VALUE).save("a")
    path = home / _secret_box.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_bytes()
    Secret(value=VALUE).save("b")
    assert path.read_bytes() == key
    assert [p.name for p in home.iterdir() if p.name.startswith(".secret")] == []


def test_processes_racing_to_create_the_key_file_end_up_with_one_key(tmp_path: Path) -> None:
    code = "from kernel_ext import _secret_box; print(_secret_box.encrypt('x', 'v'))"
    env = {**os.environ, "TASKBOOK_HOME": str(tmp_path)}
    env.pop("TASKBOOK_SECRET_KEY", None)
    children = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    tokens = [child.communicate(timeout=60)[0].strip() for child in children]
    key = (tmp_path / _secret_box.KEY_FILE).read_bytes().strip()
    assert all(json.loads(Fernet(key).decrypt(t.encode()))["value"] == "v" for t in tokens)


def test_a_key_file_others_can_read_is_refused(store: Any, home: Path) -> None:
    Secret(value=VALUE).save("a")
    (home / _secret_box.KEY_FILE).chmod(0o644)
    with _settings.override(TASKBOOK_HOME=str(home)):
        _secret_box._boxes.clear()
        with pytest.raises(ConfigurationError, match="chmod 600"):
            Secret.load("a")


def test_the_key_from_the_environment_and_its_rotation(store: Any) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with _settings.override(TASKBOOK_SECRET_KEY=old):
        Secret(value=VALUE).save("a")
    with _settings.override(TASKBOOK_SECRET_KEY=new):
        with pytest.raises(ConfigurationError, match="saved with another key") as info:
            Secret.load("a")
        assert "\n" not in str(info.value) and VALUE not in str(info.value)
    with _settings.override(TASKBOOK_SECRET_KEY=f"{new}, {old}"):
        assert Secret.load("a").get() == VALUE
        Secret(value="re-saved").save("a", overwrite=True)  # with the first key
    with _settings.override(TASKBOOK_SECRET_KEY=new):
        assert Secret.load("a").get() == "re-saved"


@pytest.mark.parametrize("key", ["not-a-key", " , "])
def test_a_bad_key_says_what_to_do(store: Any, key: str) -> None:
    with _settings.override(TASKBOOK_SECRET_KEY=key):
        with pytest.raises(ConfigurationError, match="TASKBOOK_SECRET_KEY") as info:
            Secret(value=VALUE).save("a")
    assert "taskbook secrets new-key" in str(info.value) and "\n" not in str(info.value)


def test_a_token_copied_into_another_secrets_row_is_refused(store: Any) -> None:
    Secret(value=VALUE).save("admin")
    Secret(value="harmless").save("guest")
    engine = create_engine(store.url)
    with engine.begin() as connection:
        stolen = connection.scalar(
            select(secrets_table.c.ciphertext).where(secrets_table.c.name == "admin")
        )
        connection.execute(
            update(secrets_table).where(secrets_table.c.name == "guest").values(ciphertext=stolen)
        )
    engine.dispose()
    with pytest.raises(ConfigurationError, match="holds the value of another secret"):
        Secret.load("guest")


def test_saving_a_taken_name_needs_overwrite(store: Any) -> None:
    Secret(value="one").save("api")
    with pytest.raises(ValueError, match="exists already; save with `overwrite=True`") as info:
        Secret(value="two").save("api")
    assert isinstance(info.value, SecretAlreadyExists) and info.value.name == "api"
    first = Secret(value="two").save("api", overwrite=True)
    assert Secret.load("api").get() == "two"
    loaded = Secret.load("api")
    loaded.value = PydanticSecret[str]("three")
    assert loaded.save(overwrite=True) == first  # its own name; the same id each time
    assert Secret.load("api").get() == "three"
    with pytest.raises(ConfigurationError, match="no name to be saved under"):
        Secret(value="x").save()


def test_loading_or_deleting_a_missing_name_raises_a_value_error(store: Any) -> None:
    with pytest.raises(ValueError, match="Unable to find secret 'nope'") as info:
        Secret.load("nope")
    assert isinstance(info.value, SecretNotFound) and isinstance(info.value, LookupError)
    assert info.value.name == "nope" and "taskbook secrets set nope" in str(info.value)
    Secret(value=VALUE).save("gone")
    Secret.delete("gone")
    with pytest.raises(SecretNotFound):
        Secret.load("gone")
    with pytest.raises(SecretNotFound):
        Secret.delete("gone")


@pytest.mark.parametrize("name", ["a_block", "a.block", "My-Block", "a/block", "a b", ""])
def test_names_are_prefects_block_names(store: Any, name: str) -> None:
    with pytest.raises(InvalidNameError, match="name") as info:
        Secret(value=VALUE).save(name)
    assert isinstance(info.value, ValueError)
    assert "lowercase letters, numbers, and dashes" in str(info.value) or not name


def test_a_value_that_is_not_json_is_refused(store: Any) -> None:
    with pytest.raises(ValueError, match="not a valid JSON value"):
        Secret(value={"when": object()})  # pydantic's check, as in Prefect
    with pytest.raises(ConfigurationError, match="NaN and Infinity are not JSON"):
        Secret(value=[float("nan")]).save("a")


def test_a_profile_reads_its_own_name_first_and_falls_back(store: Any) -> None:
    Secret(value="shared").save("warehouse")
    Secret(value="only-shared").save("region")
    Secret(value="prod-value").save("prod-warehouse")
    with _settings.override(TASKBOOK_PROFILE="prod"):
        assert Secret.load("warehouse").get() == "prod-value"
        assert Secret.load("region").get() == "only-shared"
        Secret(value="prod-token").save("token")  # written under the profile's name
        Secret.delete("warehouse")  # the profile's, not the shared one
        assert Secret.load("warehouse").get() == "shared"
        with pytest.raises(SecretNotFound, match="'prod-nope' or 'nope'"):
            Secret.load("nope")
    assert Secret.load("prod-token").get() == "prod-token"
    with pytest.raises(SecretNotFound):
        Secret.load("token")
    with _settings.override(TASKBOOK_PROFILE="Prod_1"):
        with pytest.raises(InvalidNameError, match="lowercase letters, digits and dashes"):
            Secret.load("warehouse")


def test_async_code_awaits_the_same_calls(store: Any) -> None:
    @flow
    async def uses_secrets() -> list[Any]:
        await Secret(value=VALUE).save("a")  # dispatched: a coroutine in an async flow
        loaded = await Secret.load("a")
        again = await Secret.aload("a")
        plain = Secret.load("a", _sync=True)
        await Secret.adelete("a")
        return [loaded.get(), again.get(), plain.get()]

    @flow
    def sync_flow() -> str:
        return str(Secret.load("b").get())

    assert asyncio.run(uses_secrets()) == [VALUE, VALUE, VALUE]
    Secret(value="sync").save("b")
    assert sync_flow() == "sync"


def test_logs_prints_and_states_mask_a_loaded_secret(store: Any, capsys: Any) -> None:
    Secret(value={"user": "etl", "password": VALUE}).save("warehouse")
    _redaction.forget_all()  # as in a new process: only what this run loads is masked

    @task
    def connect() -> None:
        password = Secret.load("warehouse").get()["password"]
        get_run_logger().warning("connecting with %s", password)
        print(f"password={password}")
        raise ConnectionError(f"login refused for {password!r}")

    @flow(log_prints=True)
    def nightly() -> None:
        connect()

    nightly(return_state=True)
    run = last_flow_run(store)
    stored = json.dumps(
        [
            store.read_logs(run["id"]),
            run,
            [store.read_history(r["id"]) for r in (run, *run["task_runs"])],
        ]
    )
    assert VALUE not in stored
    messages = [line["message"] for line in store.read_logs(run["id"])]
    assert "connecting with ********" in messages and "password=********" in messages
    task_run = run["task_runs"][0]
    assert task_run["state_message"] == "ConnectionError: login refused for '********'"
    traceback = store.read_history(task_run["id"])[-1]["details"]["traceback"]
    assert "login refused for '********'" in traceback
    assert "connecting with ********" in capsys.readouterr().err  # the console line too


def test_what_is_masked_and_how() -> None:
    assert _redaction.redact("nothing known") == "nothing known"
    assert not _redaction.active()
    _redaction.remember({"user": "etl-1", "password": 'p"w\\x<y>', "port": 5432, "x": "abc"})
    assert _redaction.active()
    text = 'etl-1 p"w\\x<y> {"password": "p\\"w\\\\x<y>"} p&quot;w 5432 abc'
    masked = '******** ******** {"password": "********"} p&quot;w 5432 abc'
    assert _redaction.redact(text) == masked  # short values and numbers are left
    assert _redaction.redact(repr({"password": 'p"w\\x<y>'})) == "{'password': '********'}"
    assert _redaction.redact('p"w\\x&lt;y&gt;') == "********"  # as HTML output holds it
    _redaction.remember("-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n-----END KEY-----")
    assert _redaction.redact('["MIIEvQIBADANBgkq\\n"]') == '["********\\n"]'
    _redaction.remember("sk-live-1")
    _redaction.remember("sk-live-12345")
    assert _redaction.redact("sk-live-12345") == "********"  # the longer value whole


def test_prefect_code_imports_secret_from_prefects_path(tmp_path: Path) -> None:
    code = (
        "import kernel_ext.compat; kernel_ext.compat.install_as_prefect()\n"
        "from prefect.blocks.system import Secret\n"
        "from prefect.variables import Variable\n"
        "import prefect.blocks, kernel_ext\n"
        "assert Secret is kernel_ext.Secret and Variable is kernel_ext.Variable\n"
        "assert prefect.blocks.system.Secret is Secret\n"
        "Secret(value='sk-1').save('openai'); Variable.set('n', 3)\n"
        "print(Secret.load('openai').get(), Variable.get('n'))\n"
    )
    env = {**os.environ, "TASKBOOK_HOME": str(tmp_path)}
    env.pop("TASKBOOK_STORE_URL", None)
    env.pop("TASKBOOK_SECRET_KEY", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["sk-1", "3"]


def test_json_is_masked_as_values_never_as_text() -> None:
    quotes = "ab\\cd'ef\"gh"  # a backslash and both quotes: repr escapes them
    _redaction.remember("20240101")
    _redaction.remember({"sslmode": "true", "password": quotes})
    parameters = {"day": 20240101, "pin": "20240101", "on": [True, None], "note": "pin 20240101"}
    assert _redaction.redact_value(parameters) == {
        "day": 20240101,  # a number stays a number: the stored value keeps its type
        "pin": "********",
        "on": [True, None],
        "note": "pin ********",
    }
    untouched = {"flag": "true", "n": [1, 2.5]}
    assert _redaction.redact_value(untouched) is untouched  # "true" hides nothing
    assert _redaction.redact("connected: true") == "connected: true"
    # A printed dict shows repr(secret); a notebook or a log line quotes that in JSON.
    printed = [repr({"password": quotes})]
    assert _redaction.redact_value(printed) == ["{'password': '********'}"]
    assert _redaction.redact(json.dumps({"text": printed})) == json.dumps(
        {"text": ["{'password': '********'}"]}
    )
    assert _redaction.in_json(json.dumps({"text": printed}))
    assert not _redaction.in_json(json.dumps({"day": 2024, "flag": "tru"}))  # a cheap no


def test_a_run_whose_parameters_and_traceback_hold_a_secret_is_stored_and_readable(
    store: Any,
) -> None:
    Secret(value="20240101").save("pin")
    Secret(value={"sslmode": "true", "password": "pw-77c1e0"}).save("db")
    _redaction.forget_all()
    Secret.load("pin").get()  # known before the run starts, as in a deployment's executor
    Secret.load("db").get()

    @flow
    def nightly(day: int, pin: str, options: dict[str, Any]) -> None:
        raise ValueError(f"day {day} pin {pin} options {options} password pw-77c1e0")

    options = {"retries": 20240101, "sslmode": True, "proxy": None, "note": "pw-77c1e0"}
    nightly(20240101, "20240101", options, return_state=True)
    store.flush()
    run = last_flow_run(store)  # reads every run: one bad document would fail it
    assert [r["id"] for r in store.list_flow_runs()] == [run["id"]]
    assert run["parameters"] == {
        "day": 20240101,
        "pin": "********",
        "options": {"retries": 20240101, "sslmode": True, "proxy": None, "note": "********"},
    }
    details = store.read_history(run["id"])[-1]["details"]
    assert "pin ******** " in details["traceback"] and "pw-77c1e0" not in json.dumps(details)
    assert "password ********" in run["state_message"]


def test_a_missing_secret_under_a_profile_advises_the_profile_option(store: Any) -> None:
    with _settings.override(TASKBOOK_PROFILE="prod"):
        with pytest.raises(SecretNotFound) as info:
            Secret.load("db")
        assert "`taskbook secrets set db --profile prod`" in str(info.value)
        with pytest.raises(SecretNotFound, match="set db --profile prod"):
            Secret.delete("db")
    with pytest.raises(SecretNotFound, match="`taskbook secrets set db`"):
        Secret.load("db")


def test_the_key_file_is_never_written_through_a_planted_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another user of a shared folder plants links where the partial key file goes."""
    import threading

    target = tmp_path / "theirs"
    target.write_text("")
    home = tmp_path / "home"
    home.mkdir()
    guessed = home / f".{_secret_box.KEY_FILE}.{os.getpid()}.{threading.get_ident()}"
    guessed.symlink_to(target)
    with _settings.override(TASKBOOK_HOME=str(home)):
        _secret_box.encrypt("x", "v")
        assert target.read_text() == ""
        planted = home / f".{_secret_box.KEY_FILE}.{'ab' * 8}.partial"
        planted.symlink_to(target)
        monkeypatch.setattr(_secret_box.secrets, "token_hex", lambda n: "ab" * n)
        (home / _secret_box.KEY_FILE).unlink()
        _secret_box._boxes.clear()
        with pytest.raises(FileExistsError):
            _secret_box.encrypt("x", "v")
    assert target.read_text() == "" and planted.is_symlink()


def test_a_server_store_with_this_machines_key_warns_once(store: Any, home: Path) -> None:
    on_server = store.url.startswith("postgresql")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Secret(value=VALUE).save("a")
        Secret(value=VALUE).save("b")
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == (1 if on_server else 0), messages
    if on_server:
        assert "'a' is encrypted with this machine's key file" in messages[0]
        assert "the same TASKBOOK_SECRET_KEY" in messages[0]
        assert caught[0].filename == __file__  # points at the save() call
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _settings.override(TASKBOOK_SECRET_KEY=Fernet.generate_key().decode()):
            Secret(value=VALUE).save("c")  # a shared key: nothing to say
    assert not caught
    (home / _secret_box.KEY_FILE).write_text(Fernet.generate_key().decode())
    _secret_box._boxes.clear()  # another machine's key file
    with pytest.raises(ConfigurationError, match="the same TASKBOOK_SECRET_KEY"):
        Secret.load("a")
