"""Taskbook's Jupyter server extension: a REST API over the store under /taskbook/api/.

Every endpoint sits behind Jupyter's own authentication and XSRF protection (handlers
derive from ``APIHandler`` and are ``@authenticated``). Enabled by the configuration file
the distribution installs into ``etc/jupyter/jupyter_server_config.d``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["_jupyter_server_extension_points", "_load_jupyter_server_extension"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "papermill_bridge.server"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    from jupyter_server.utils import url_path_join

    from papermill_bridge.server._handlers import ROUTES

    web_app = server_app.web_app
    base = url_path_join(web_app.settings["base_url"], "taskbook", "api")
    web_app.add_handlers(".*$", [(url_path_join(base, path), handler) for path, handler in ROUTES])
    server_app.log.info("Taskbook API at %s", base)
