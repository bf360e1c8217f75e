"""A page that renders the bundled widgets in headless Chromium, with a fake widget model.

Everything is served from a made-up origin by request interception: the bundles from the
package, the page with its Jupyter config, and whatever a test answers for the Taskbook
API. Any other request is recorded (and fails): the widgets must load nothing else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kernel_ext.widgets

CHROMIUM = os.environ.get("TASKBOOK_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ORIGIN = "http://taskbook.test"
STATIC = Path(kernel_ext.widgets.__file__).parent / "static"
XSRF = "2|1a2b3c|4d5e6f|1700000000"

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<script id="jupyter-config-data" type="application/json">{"baseUrl": "/base/"}</script>
<script>
window.makeModel = (state) => {
  const handlers = {};
  return {
    state, sent: [], saved: 0,
    get(key) { return state[key]; },
    set(key, value) { state[key] = value; (handlers["change:" + key] || []).forEach((f) => f()); },
    on(name, f) { (handlers[name] ||= []).push(f); },
    off(name, f) { handlers[name] = (handlers[name] || []).filter((g) => g !== f); },
    send(message) { this.sent.push(message); },
    save_changes() { this.saved += 1; },
    emit(name, ...args) { (handlers[name] || []).forEach((f) => f(...args)); },
    listeners() { return Object.values(handlers).reduce((n, fs) => n + fs.length, 0); },
  };
};
window.mount = async (name, traits) => {
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = `/static/${name}.css`;
  document.head.append(link);
  const module = await import(`/static/${name}.js`);
  window.model = window.makeModel(traits);
  const el = document.getElementById("root");
  window.cleanup = await module.default.render({ model: window.model, el });
};
</script></head><body><div id="root" style="width: 1000px"></div></body></html>"""

Api = Callable[[Any], None]


class WidgetPage:
    """One page with one widget mounted; ``api`` answers the Taskbook API's requests."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.api: Api | None = None
        self.posts: list[dict[str, Any]] = []
        self.outside: list[str] = []
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.route("**/*", self._serve)
        page.goto(f"{ORIGIN}/lab")

    def mount(self, name: str, traits: dict[str, Any]) -> None:
        self.page.evaluate("([name, traits]) => window.mount(name, traits)", [name, traits])

    def _serve(self, route: Any) -> None:
        url: str = route.request.url
        if not url.startswith(ORIGIN):
            self.outside.append(url)
            route.abort()
        elif url == f"{ORIGIN}/lab":
            route.fulfill(status=200, content_type="text/html", body=PAGE)
        elif url.startswith(f"{ORIGIN}/static/"):
            path = STATIC / url.rsplit("/", 1)[1]
            kind = "text/javascript" if path.suffix == ".js" else "text/css"
            route.fulfill(status=200, content_type=kind, body=path.read_text(encoding="utf-8"))
        elif url.startswith(f"{ORIGIN}/base/taskbook/api/") and self.api is not None:
            request = route.request
            self.posts.append(
                {
                    "url": url,
                    "method": request.method,
                    "headers": request.headers,
                    "body": json.loads(request.post_data or "null"),
                }
            )
            self.api(route)
        else:
            route.fulfill(status=404, content_type="text/html", body="<h1>404 Not Found</h1>")
