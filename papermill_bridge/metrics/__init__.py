"""Prometheus metrics of the store: run counts by state, durations, late runs, queues,
workers' heartbeats, limit slots in use, and the serving process's store writer lag.

``taskbook serve --metrics-port 9464`` (and ``taskbook worker --metrics-port``) serves
them at ``/metrics``; the Jupyter server extension at ``/taskbook/api/metrics``, behind
Jupyter's auth. From Python:

    from papermill_bridge.metrics import serve_metrics

    server = serve_metrics(9464)         # 127.0.0.1 by default
    print(server.url)
    server.close()

``StoreCollector`` is the collector itself, to register in a registry of one's own.
Needs ``prometheus_client`` (a dependency of Taskbook, as of Jupyter Server).
"""

from __future__ import annotations

from papermill_bridge.metrics._collector import StoreCollector
from papermill_bridge.metrics._http import MetricsServer, metrics_registry, render, serve_metrics

__all__ = ["MetricsServer", "StoreCollector", "metrics_registry", "render", "serve_metrics"]
