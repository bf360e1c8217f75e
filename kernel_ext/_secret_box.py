"""The key that encrypts secrets, and encrypting and decrypting with it.

Secrets are stored as Fernet tokens (AES-128-CBC with an HMAC-SHA256, from the
``cryptography`` package): encrypted and authenticated, so a token changed in the
database, or encrypted with another key, is refused rather than decrypted into garbage.
The key never goes into the store: whoever can read the database cannot read a secret.

Where the key comes from:

- ``TASKBOOK_SECRET_KEY``: one key, or several separated by commas to rotate (the first
  encrypts, any of them decrypts). Give every process that loads secrets (each worker,
  each notebook's kernel) the same value: that is how a team shares secrets.
- Otherwise the key file ``secret.key`` in the Taskbook home, generated on first use,
  readable by its owner only. One machine and one user need nothing else; on a store
  other machines share (PostgreSQL), ``Secret.save`` warns that they cannot decrypt.

Each token carries the name of the secret it was saved under, so a token copied into
another secret's row is refused too.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernel_ext import _settings
from kernel_ext._errors import ConfigurationError
from kernel_ext._profiles import command_args

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

__all__ = [
    "KEY_FILE",
    "SHARED_KEY_ADVICE",
    "decrypt",
    "encrypt",
    "key_is_this_machines",
    "key_source",
    "new_key",
]

KEY_FILE = "secret.key"
_NEW_KEY = "`taskbook secrets new-key`"
SHARED_KEY_ADVICE = (
    f"A team shares one key: make one with {_NEW_KEY}, give every worker and every "
    "kernel that loads secrets the same TASKBOOK_SECRET_KEY, and save the secrets again."
)
_KEY_FILE_ADVICE = f"A key file is this machine's own. {SHARED_KEY_ADVICE}"

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)

_lock = threading.Lock()
_boxes: dict[tuple[str | None, str], MultiFernet] = {}


def encrypt(name: str, value: Any) -> str:
    """A token for secret ``name`` holding ``value`` (a string or any JSON value)."""
    plain = json.dumps({"name": name, "value": value}, separators=(",", ":"))
    return _box().encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt(name: str, token: str) -> Any:
    """The value in ``token``, saved as secret ``name``; ``ConfigurationError`` saying
    what to do if this process's key did not encrypt it."""
    from cryptography.fernet import InvalidToken

    box = _box()  # its own errors (no key, a bad key) say what is wrong with the key
    command = f"taskbook secrets set {command_args(name)}"
    try:
        plain = json.loads(box.decrypt(token.encode("ascii")))
    except (InvalidToken, UnicodeEncodeError, ValueError):
        shared = "" if _settings.secret_key() else f" {_KEY_FILE_ADVICE}"
        raise ConfigurationError(
            f"Secret {name!r} cannot be decrypted with this process's key ({key_source()}): "
            f"it was saved with another key. Use the key it was saved with, or save it "
            f"again (`{command}`).{shared}"
        ) from None
    if not isinstance(plain, dict) or plain.get("name") != name:
        raise ConfigurationError(
            f"The stored secret {name!r} holds the value of another secret (its row was "
            f"copied); save it again with `{command}`."
        )
    return plain.get("value")


def key_is_this_machines() -> bool:
    """Whether the key is the home's key file (no ``TASKBOOK_SECRET_KEY``): other
    machines have keys of their own, and cannot decrypt what this one encrypts."""
    return not _settings.secret_key()


def key_source() -> str:
    """Where this process's key comes from, to name in messages (never the key)."""
    if _settings.secret_key():
        return "TASKBOOK_SECRET_KEY"
    return str(_key_path())


def new_key() -> str:
    """A new random key, for TASKBOOK_SECRET_KEY (stored nowhere)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def _box() -> MultiFernet:
    """The Fernet of this process's key, built once per key (the key file is read once)."""
    configured = _settings.secret_key()
    cache_key = (configured, "" if configured else str(_key_path()))
    box = _boxes.get(cache_key)
    if box is None:
        with _lock:
            box = _boxes.get(cache_key)
            if box is None:
                keys = _parse(configured) if configured else [_key_file(Path(cache_key[1]))]
                box = _boxes[cache_key] = _fernet(keys, bool(configured))
    return box


def _parse(configured: str) -> list[str]:
    keys = [part.strip() for part in configured.split(",") if part.strip()]
    if not keys:
        raise ConfigurationError(
            f"TASKBOOK_SECRET_KEY is set but holds no key; set it to a key from {_NEW_KEY}, "
            "or unset it to use the key file in the Taskbook home."
        )
    return keys


def _fernet(keys: list[str], from_environment: bool) -> MultiFernet:
    from cryptography.fernet import Fernet, MultiFernet

    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:  # "Fernet key must be 32 url-safe base64-encoded bytes."
        where = "TASKBOOK_SECRET_KEY" if from_environment else f"The key file {_key_path()}"
        raise ConfigurationError(
            f"{where} does not hold a Fernet key (32 url-safe base64-encoded bytes); "
            f"make one with {_NEW_KEY}, or restore the key the secrets were saved with."
        ) from None


def _key_path() -> Path:
    return _settings.home() / KEY_FILE


def _key_file(path: Path) -> str:
    """The key in ``path``, which is created with a new key if it does not exist yet."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    _create_key_file(path)
    return _read_key(path)


def _read_key(path: Path) -> str:
    with path.open("rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                f"The key file {path} can be read by other users; make it yours only "
                f"(`chmod 600 {path}`), or set TASKBOOK_SECRET_KEY instead."
            )
        return handle.read().decode("ascii", "replace").strip()


def _create_key_file(path: Path) -> None:
    """Write a new key to a file of our own, then link it into place: the link fails if
    another process got there first, so every process ends up with the same key, and
    none reads a key file half written."""
    from cryptography.fernet import Fernet

    # A name nobody can guess, created new (never an existing file, nor a symlink planted
    # in a shared folder to make us write the key elsewhere).
    partial = path.with_name(f".{path.name}.{secrets.token_hex(8)}.partial")
    descriptor = os.open(partial, _NEW_FILE, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(Fernet.generate_key() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(partial, path)
        except FileExistsError:
            pass  # another process's key won: use that one
        except OSError as error:  # a file system without hard links
            raise ConfigurationError(
                f"The key file {path} cannot be created here ({error.strerror}); set "
                f"TASKBOOK_SECRET_KEY to a key from {_NEW_KEY} instead."
            ) from None
    finally:
        partial.unlink(missing_ok=True)
