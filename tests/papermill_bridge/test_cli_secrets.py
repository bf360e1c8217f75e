"""``taskbook secrets`` and ``taskbook variables`` as a user runs them: the installed
console script, in a subprocess; a secret's value never appears in what they print."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from kernel_ext import _redaction, _settings
from kernel_ext.store import reset_store

VALUE = "sk-live-93f1c0de77"
COMMANDS = [
    ["secrets"],
    ["secrets", "set"],
    ["secrets", "ls"],
    ["secrets", "rm"],
    ["secrets", "new-key"],
    ["variables"],
    ["variables", "set"],
    ["variables", "get"],
    ["variables", "ls"],
    ["variables", "unset"],
]


def taskbook(
    home: Path, *args: str, input: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TASKBOOK_HOME": str(home), "TASKBOOK_LOGGING_LEVEL": "WARNING"}
    for name in ("TASKBOOK_STORE_URL", "TASKBOOK_SECRET_KEY", "TASKBOOK_PROFILE"):
        env.pop(name, None)
    script = Path(sys.executable).with_name("taskbook")
    done = subprocess.run(
        [str(script), *args], env=env, capture_output=True, text=True, input=input or ""
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def load(home: Path, name: str) -> Any:
    """The secret as a flow in this process would load it from the CLI's store."""
    from kernel_ext import Secret

    url = f"sqlite:///{home / 'taskbook.db'}"
    try:
        with _settings.override(TASKBOOK_HOME=str(home), TASKBOOK_STORE_URL=url):
            return Secret.load(name).get()
    finally:
        reset_store()
        _redaction.forget_all()


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(tmp_path: Path, command: list[str]) -> None:
    assert taskbook(tmp_path, *command, "--help").stdout.startswith("Usage: taskbook")


def test_secrets_set_from_stdin_list_and_remove_without_showing_the_value(tmp_path: Path) -> None:
    out = taskbook(tmp_path, "secrets", "set", "openai", input=VALUE + "\n")
    assert out.stdout.strip() == f"Saved secret 'openai', encrypted with {tmp_path}/secret.key."
    assert load(tmp_path, "openai") == VALUE  # the newline echo adds is not part of it
    creds = json.dumps({"user": "etl", "password": VALUE})
    taskbook(tmp_path, "secrets", "set", "warehouse", "--json-value", input=creds)
    assert load(tmp_path, "warehouse") == {"user": "etl", "password": VALUE}

    listed = taskbook(tmp_path, "secrets", "ls")
    assert listed.stdout.splitlines()[0].split() == ["NAME", "CREATED", "UPDATED"]
    records = json.loads(taskbook(tmp_path, "secrets", "ls", "--json").stdout)
    assert [(r["name"], sorted(r)) for r in records] == [
        ("openai", ["created", "name", "updated"]),
        ("warehouse", ["created", "name", "updated"]),
    ]
    assert taskbook(tmp_path, "secrets", "rm", "openai").stdout.strip() == (
        "Deleted secret 'openai'."
    )
    assert "openai" not in taskbook(tmp_path, "secrets", "ls").stdout
    assert VALUE not in listed.stdout + listed.stderr + out.stdout + out.stderr


def test_secret_mistakes_get_one_line_and_status_1(tmp_path: Path) -> None:
    taskbook(tmp_path, "secrets", "set", "openai", input=VALUE)
    cases = [
        (["secrets", "set", "openai"], "two", "--overwrite"),
        (["secrets", "set", "Open_AI"], "x", "lowercase letters, numbers, and dashes"),
        (["secrets", "set", "empty"], "", "empty"),
        (["secrets", "set", "creds", "--json-value"], "{not json", "not JSON"),
        (["secrets", "rm", "nope"], None, "taskbook secrets ls"),
        (["secrets", "set", "a", "--profile", "Prod"], "x", "profile"),
    ]
    for args, given, hint in cases:
        done = taskbook(tmp_path, *args, input=given, check=False)
        assert done.returncode == 1, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and hint in done.stderr, done.stderr
    taskbook(tmp_path, "secrets", "set", "openai", "--overwrite", input="two")
    assert load(tmp_path, "openai") == "two"


@pytest.mark.postgres
def test_a_server_store_with_this_machines_key_file_gets_a_warning_line(
    tmp_path: Path, postgres_database: str
) -> None:
    from tests.postgres import new_schema_url

    url = new_schema_url(postgres_database)
    env = {**os.environ, "TASKBOOK_HOME": str(tmp_path), "TASKBOOK_STORE_URL": url}
    env.pop("TASKBOOK_SECRET_KEY", None)
    script = str(Path(sys.executable).with_name("taskbook"))
    done = subprocess.run(
        [script, "secrets", "set", "db"], env=env, capture_output=True, text=True, input=VALUE
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Saved secret 'db'")
    assert done.stderr.startswith("Warning: Secret 'db' is encrypted with this machine's key")
    assert "the same TASKBOOK_SECRET_KEY" in done.stderr and VALUE not in done.stderr
    env["TASKBOOK_SECRET_KEY"] = Fernet.generate_key().decode()
    shared = subprocess.run(
        [script, "secrets", "set", "db2"], env=env, capture_output=True, text=True, input=VALUE
    )
    assert shared.returncode == 0 and "Warning" not in shared.stderr, shared.stderr


def test_a_profile_sets_and_removes_its_own_names(tmp_path: Path) -> None:
    taskbook(tmp_path, "secrets", "set", "warehouse", input="shared")
    out = taskbook(tmp_path, "secrets", "set", "warehouse", "--profile", "prod", input="prod-pw")
    assert "'prod-warehouse'" in out.stdout
    assert load(tmp_path, "prod-warehouse") == "prod-pw"
    assert load(tmp_path, "warehouse") == "shared"
    taskbook(tmp_path, "secrets", "rm", "warehouse", "--profile", "prod")
    names = [r["name"] for r in json.loads(taskbook(tmp_path, "secrets", "ls", "--json").stdout)]
    assert names == ["warehouse"]


def test_the_value_is_typed_at_a_hidden_prompt(tmp_path: Path) -> None:
    """On a terminal the value is asked for, and what is typed is not echoed."""
    leader, follower = os.openpty()

    def own_terminal() -> None:  # the child's controlling terminal, as in a shell
        os.setsid()
        fcntl.ioctl(follower, termios.TIOCSCTTY, 0)

    env = {**os.environ, "TASKBOOK_HOME": str(tmp_path)}
    env.pop("TASKBOOK_STORE_URL", None)
    env.pop("TASKBOOK_SECRET_KEY", None)
    script = Path(sys.executable).with_name("taskbook")
    child = subprocess.Popen(
        [str(script), "secrets", "set", "typed"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        preexec_fn=own_terminal,
    )
    os.close(follower)
    seen = _read_until(leader, b"Value:")
    os.write(leader, VALUE.encode() + b"\n")
    seen += _read_until(leader, b"Saved secret")
    assert child.wait(timeout=60) == 0, seen
    os.close(leader)
    assert VALUE.encode() not in seen
    assert load(tmp_path, "typed") == VALUE


def _read_until(descriptor: int, marker: bytes, timeout: float = 60) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        try:
            seen += os.read(descriptor, 1024)
        except OSError:  # the child closed the terminal
            break
    return seen


def test_new_key_prints_a_fernet_key(tmp_path: Path) -> None:
    key = taskbook(tmp_path, "secrets", "new-key").stdout.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
    assert not (tmp_path / "secret.key").exists()  # stored nowhere


def test_variables_set_get_list_and_unset(tmp_path: Path) -> None:
    assert "No variables yet" in taskbook(tmp_path, "variables", "ls").stdout
    assert taskbook(tmp_path, "variables", "set", "batch_size", "500").stdout.strip() == (
        "Set variable 'batch_size' to 500."
    )
    taskbook(tmp_path, "variables", "set", "region", "eu-west-1", "--tag", "infra")
    taskbook(tmp_path, "variables", "set", "config", '{"retries": 3}')
    taskbook(tmp_path, "variables", "set", "code", '"500"')
    values = {
        name: json.loads(taskbook(tmp_path, "variables", "get", name, "--json").stdout)
        for name in ("batch_size", "region", "config", "code")
    }
    assert values == {
        "batch_size": 500,
        "region": "eu-west-1",
        "config": {"retries": 3},
        "code": "500",
    }
    assert taskbook(tmp_path, "variables", "get", "region").stdout == "eu-west-1\n"
    assert taskbook(tmp_path, "variables", "get", "config").stdout == '{"retries": 3}\n'
    listed = json.loads(taskbook(tmp_path, "variables", "ls", "--json").stdout)
    assert [(r["name"], r["tags"]) for r in listed] == [
        ("batch_size", []),
        ("code", []),
        ("config", []),
        ("region", ["infra"]),
    ]
    table = taskbook(tmp_path, "variables", "ls").stdout
    assert table.splitlines()[0].split() == ["NAME", "VALUE", "TAGS", "UPDATED"]
    assert '"eu-west-1"' in table and "infra" in table

    refused = taskbook(tmp_path, "variables", "set", "batch_size", "800", check=False)
    assert refused.returncode == 1 and "--overwrite" in refused.stderr
    taskbook(tmp_path, "variables", "set", "batch_size", "800", "--overwrite")
    assert taskbook(tmp_path, "variables", "get", "batch_size").stdout == "800\n"
    assert taskbook(tmp_path, "variables", "unset", "code").stdout.strip() == (
        "Deleted variable 'code'."
    )


def test_variable_mistakes_get_one_line_and_status_1(tmp_path: Path) -> None:
    cases = [
        (["variables", "get", "nope"], "taskbook variables set nope VALUE"),
        (["variables", "unset", "nope"], "taskbook variables ls"),
        (["variables", "set", "Bad Name", "1"], "dashes or underscores"),
        (["variables", "set", "big", "x" * 5001], "less than 5000 characters"),
        (["variables", "set", "n", "NaN"], "NaN and Infinity are not JSON"),
    ]
    for args, hint in cases:
        done = taskbook(tmp_path, *args, check=False)
        assert done.returncode == 1, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and hint in done.stderr, done.stderr


def test_variables_under_a_profile(tmp_path: Path) -> None:
    taskbook(tmp_path, "variables", "set", "warehouse", "shared-db")
    taskbook(tmp_path, "variables", "set", "warehouse", "staging-db", "--profile", "staging")
    get = ["variables", "get", "warehouse"]
    assert taskbook(tmp_path, *get, "--profile", "staging").stdout == "staging-db\n"
    assert taskbook(tmp_path, *get, "--profile", "prod").stdout == "shared-db\n"
    assert taskbook(tmp_path, *get).stdout == "shared-db\n"
    missing = taskbook(tmp_path, "variables", "get", "nope", "--profile", "prod", check=False)
    assert "'prod-nope' or 'nope'" in missing.stderr
