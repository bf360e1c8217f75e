"""The exposition: a registry of Taskbook's metrics, rendered for a scrape or served on a
port of its own (``taskbook serve --metrics-port``)."""

from __future__ import annotations

import errno
import socket
import threading
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, start_http_server
from prometheus_client.process_collector import ProcessCollector

from kernel_ext._errors import ConfigurationError
from papermill_bridge.metrics._collector import StoreCollector

__all__ = ["MetricsServer", "metrics_registry", "render", "serve_metrics"]


def metrics_registry(process: bool = False, window: float = 3600.0) -> CollectorRegistry:
    """A registry of Taskbook's metrics; with ``process``, the serving process's own
    (``process_cpu_seconds_total``, memory, open files) too."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(window=window))
    if process:
        ProcessCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry, accept: str | None = None) -> tuple[bytes, str]:
    """The scrape's body and content type: Prometheus's text format, or OpenMetrics when
    the scraper's ``Accept`` asks for it (which keeps the gauge histograms' type)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


class MetricsServer:
    """``/metrics`` served by ``prometheus_client``'s HTTP server in a daemon thread."""

    def __init__(self, server: Any, thread: threading.Thread, host: str, port: int) -> None:
        self._server, self._thread = server, thread
        self.host, self.port = host, port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(
    port: int, host: str = "127.0.0.1", registry: CollectorRegistry | None = None
) -> MetricsServer:
    """Serve ``/metrics`` on ``host:port`` (port 0: a free one); ``ConfigurationError``
    saying which option to change if the address cannot be had."""
    if not 0 <= port <= 65535:
        raise ConfigurationError(
            f"--metrics-port {port}: give a port from 0 to 65535 (0: a free one)."
        )
    chosen = registry if registry is not None else metrics_registry(process=True)
    try:
        server, thread = start_http_server(port, addr=host, registry=chosen)
    except OSError as error:
        raise _address_error(error, host, port) from error
    return MetricsServer(server, thread, host, int(server.server_address[1]))


def _address_error(error: OSError, host: str, port: int) -> ConfigurationError:
    if error.errno == errno.EADDRINUSE:
        return ConfigurationError(
            f"Port {port} on {host} is in use (another `taskbook serve`?); choose another with "
            "--metrics-port, or stop what listens there."
        )
    if error.errno == errno.EACCES:
        return ConfigurationError(
            f"Port {port} on {host} needs privileges; choose one above 1023 with --metrics-port."
        )
    if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
        return ConfigurationError(
            f"Cannot listen on {host!r} ({error.strerror or error}); give an address of this "
            "machine with --metrics-host (127.0.0.1 by default, 0.0.0.0 for every interface)."
        )
    return ConfigurationError(f"Cannot serve metrics on {host}:{port}: {error}.")
