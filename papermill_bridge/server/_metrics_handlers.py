"""The Prometheus endpoint of the Jupyter server extension, behind Jupyter's auth:

    GET  /taskbook/api/metrics      Taskbook's metrics in Prometheus's text format

A scraper authenticates as any API client does (``Authorization: token ...``; in
Prometheus, ``authorization: {type: token, credentials: ...}``) and needs ``read``.
Jupyter Server's own ``/metrics`` is left alone: these are the store's, not the server's.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from papermill_bridge.server._base import RawBody, TaskbookHandler

__all__ = ["ROUTES"]

_registry: Any = None


def _metrics(accept: str | None) -> tuple[bytes, str]:
    """The scrape, from one registry per server (prometheus_client loads on first use)."""
    global _registry
    from papermill_bridge.metrics import metrics_registry, render

    if _registry is None:
        _registry = metrics_registry()
    return render(_registry, accept)


class MetricsHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self) -> None:
        self.respond(lambda: RawBody(*_metrics(self.request.headers.get("Accept"))))


ROUTES: list[tuple[str, type[TaskbookHandler]]] = [(r"metrics", MetricsHandler)]
