"""REST handlers of approvals, the OpenAPI document, and every route of the API.

Errors map to HTTP statuses in one place: ``TaskbookHandler.respond`` (``_base``).

    GET  /taskbook/api/inputs?status=pending     input requests (paused runs' forms)
    GET  /taskbook/api/inputs/{id}               one input request
    POST /taskbook/api/inputs/{id}/answer        {"answer": {...}}  -> resumes the run
    POST /taskbook/api/inputs/{id}/reject        {"reason": "..."}  -> cancels the run
    GET  /taskbook/api/limits                    concurrency and rate limits, their use now
    GET  /taskbook/api/limits/{name}             one limit with its holders (leases)
    GET  /taskbook/api/openapi.json              this API as an OpenAPI 3.1 document
    GET  /taskbook/api/metrics                   Prometheus metrics of the store (text)

Runs are served by ``_runs_handlers``, deployments by ``_deployment_handlers``, artifacts
by ``_artifact_handlers``, metrics by ``_metrics_handlers``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from kernel_ext.store import get_store
from papermill_bridge.server._artifact_handlers import ROUTES as ARTIFACT_ROUTES
from papermill_bridge.server._base import TaskbookHandler
from papermill_bridge.server._deployment_handlers import ROUTES as DEPLOYMENT_ROUTES
from papermill_bridge.server._event_handlers import ROUTES as EVENT_ROUTES
from papermill_bridge.server._metrics_handlers import ROUTES as METRICS_ROUTES
from papermill_bridge.server._runs_handlers import ROUTES as RUN_ROUTES
from papermill_bridge.server._vault_handlers import ROUTES as VAULT_ROUTES

__all__ = ["ROUTES", "openapi_document"]


def openapi_document() -> dict[str, Any]:
    text = resources.files("papermill_bridge.server").joinpath("openapi.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


class InputsHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self) -> None:
        status = self.get_query_argument("status", "pending")
        self.respond(
            lambda: get_store().list_input_requests(status=None if status == "all" else status)
        )  # a bad one: 400


class InputHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self, request_id: str) -> None:
        self.respond(lambda: get_store().read_input_request(request_id))


class AnswerHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("write")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def post(self, request_id: str) -> None:
        from kernel_ext import approvals

        def answer() -> Any:
            return approvals.answer(request_id, self.body().get("answer"), self.user_name())

        self.respond(answer)


class RejectHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("write")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def post(self, request_id: str) -> None:
        from kernel_ext import approvals

        def reject() -> Any:
            return approvals.reject(request_id, self.body().get("reason"), self.user_name())

        self.respond(reject)


class LimitsHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self) -> None:
        self.respond(lambda: get_store().list_limits())


class LimitHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self, name: str) -> None:
        self.respond(lambda: get_store().read_limit(name))


class OpenApiHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self) -> None:
        self.respond(openapi_document)


ROUTES: list[tuple[str, type[TaskbookHandler]]] = [
    (r"inputs", InputsHandler),
    (r"inputs/([^/]+)", InputHandler),
    (r"inputs/([^/]+)/answer", AnswerHandler),
    (r"inputs/([^/]+)/reject", RejectHandler),
    (r"limits", LimitsHandler),
    (r"limits/([^/]+)", LimitHandler),
    (r"openapi\.json", OpenApiHandler),
    *RUN_ROUTES,
    *DEPLOYMENT_ROUTES,
    *ARTIFACT_ROUTES,
    *EVENT_ROUTES,
    *VAULT_ROUTES,
    *METRICS_ROUTES,
]
