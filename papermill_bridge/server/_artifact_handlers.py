"""Artifacts: what runs published, for the console's run page and artifacts list.

    GET  artifacts?key=&type=&latest=true&limit=   newest first; latest: each key's newest
    GET  artifacts/{id}                            one artifact
    GET  runs/{id}/artifacts                       a flow run's, with its subflows', oldest first

Paths are relative to /taskbook/api/.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from kernel_ext._run_records import FlowRunId
from kernel_ext.store import get_store
from papermill_bridge.server._base import BadRequest, TaskbookHandler, query_limit

__all__ = ["ROUTES"]

_TYPES = ("markdown", "table", "progress", "image")


def _kind(text: str | None) -> str | None:
    if text is not None and text not in _TYPES:
        raise BadRequest(f"type must be one of {', '.join(_TYPES)}, got {text!r}.")
    return text


def _latest(text: str | None) -> bool:
    if text in (None, "false", "0"):
        return False
    if text in ("true", "1"):
        return True
    raise BadRequest(f"latest must be true or false, got {text!r}.")


class ArtifactsHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self) -> None:
        def given(name: str) -> str | None:  # an empty value is refused, not ignored
            return self.get_query_argument(name, None)

        self.respond(
            lambda: get_store().list_artifacts(
                key=self.query("key"),
                kind=_kind(given("type")),
                latest=_latest(given("latest")),
                limit=query_limit(given("limit"), 100),
            )
        )


class ArtifactHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self, artifact_id: str) -> None:
        self.respond(lambda: get_store().read_artifact(artifact_id))


class RunArtifactsHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self, run_id: str) -> None:
        self.respond(lambda: get_store().list_run_artifacts(FlowRunId(run_id)))


ROUTES: list[tuple[str, type[TaskbookHandler]]] = [
    (r"artifacts", ArtifactsHandler),
    (r"artifacts/([^/]+)", ArtifactHandler),
    (r"runs/([^/]+)/artifacts", RunArtifactsHandler),
]
