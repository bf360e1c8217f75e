"""A real HTTP receiver on 127.0.0.1 for the notification tests: it records every POST
(path and JSON body) that Apprise's ``json://`` notifications send."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Receiver", "webhook_receiver"]


class Receiver:
    """What came in, and a way to wait for it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def url(self, path: str = "alerts") -> str:
        """An Apprise URL that posts JSON here."""
        return f"json://127.0.0.1:{self.port}/{path}"

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [body for _, body in self.posts]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The bodies once at least ``count`` came (or all that came by ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.bodies()) < count:
            time.sleep(0.05)
        return self.bodies()


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver: Receiver | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                value = json.loads(body or b"{}")
            except json.JSONDecodeError:
                value = {"raw": body.decode("utf-8", "replace")}
            assert receiver is not None
            with receiver.lock:
                receiver.posts.append((self.path, value))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
