"""A static SVG of a run graph, for outputs that cannot run JavaScript.

papermill's output notebooks, nbconvert exports and GitHub's notebook viewer show the
``image/svg+xml`` of the widget's display instead of the widget. The drawing is simple on
purpose: nodes in columns by topological depth, straight arrows, colours by state.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from kernel_ext.widgets._contract import GraphNode, GraphPayload

__all__ = ["STATE_COLOURS", "TIMES", "format_duration", "render_svg", "state_colour"]

TIMES = "\N{MULTIPLICATION SIGN}"

# By state name first (Cached is a Completed type, Retrying a Running type, ...).
STATE_COLOURS = {
    "Completed": "#2e7d32",
    "Cached": "#00897b",
    "Running": "#1e88e5",
    "Pending": "#9e9e9e",
    "Scheduled": "#9e9e9e",
    "Late": "#9e9e9e",
    "AwaitingRetry": "#f9a825",
    "Retrying": "#f9a825",
    "Paused": "#8e24aa",
    "Suspended": "#8e24aa",
    "Failed": "#e53935",
    "TimedOut": "#e53935",
    "Crashed": "#e53935",
    "Cancelling": "#616161",
    "Cancelled": "#616161",
}
_BY_TYPE = {
    "COMPLETED": "#2e7d32",
    "RUNNING": "#1e88e5",
    "PENDING": "#9e9e9e",
    "SCHEDULED": "#9e9e9e",
    "PAUSED": "#8e24aa",
    "FAILED": "#e53935",
    "CRASHED": "#e53935",
    "CANCELLING": "#616161",
    "CANCELLED": "#616161",
}

_W, _H, _GAP_X, _GAP_Y, _PAD, _HEADER = 190, 46, 48, 14, 12, 28
_FONT = "font-family='system-ui, -apple-system, Segoe UI, sans-serif'"


def state_colour(name: str, state_type: str) -> str:
    return STATE_COLOURS.get(name) or _BY_TYPE.get(state_type, "#9e9e9e")


def render_svg(payload: GraphPayload) -> str:
    nodes = payload["nodes"]
    columns = _columns(nodes, payload["edges"])
    place: dict[str, tuple[float, float]] = {}
    for col, ids in enumerate(columns):
        for row, node_id in enumerate(ids):
            place[node_id] = (_PAD + col * (_W + _GAP_X), _HEADER + _PAD + row * (_H + _GAP_Y))
    width = _PAD * 2 + max(len(columns), 1) * (_W + _GAP_X) - _GAP_X
    rows = max((len(ids) for ids in columns), default=0)
    height = _HEADER + _PAD * 2 + max(rows, 1) * (_H + _GAP_Y) - _GAP_Y
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' {_FONT} font-size='12'>",
        "<defs><marker id='tb-arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='7' "
        "markerHeight='7' orient='auto'><path d='M0,0 L10,5 L0,10 z' fill='#888'/></marker></defs>",
        f"<rect width='{width}' height='{height}' fill='#ffffff'/>",
        f"<text x='{_PAD}' y='{_PAD + 8}' font-weight='600' fill='#212121'>"
        f"{escape(_title(payload))}</text>",
    ]
    for source, target in payload["edges"]:
        if source in place and target in place:
            (x1, y1), (x2, y2) = place[source], place[target]
            parts.append(
                f"<line x1='{x1 + _W}' y1='{y1 + _H / 2}' x2='{x2}' y2='{y2 + _H / 2}' "
                "stroke='#888' stroke-width='1.2' marker-end='url(#tb-arrow)'/>"
            )
    parts.extend(_node(node, *place[node["id"]]) for node in nodes)
    parts.append("</svg>")
    return "".join(parts)


def _columns(nodes: Sequence[GraphNode], edges: Sequence[tuple[str, str]]) -> list[list[str]]:
    """Node ids by depth (the longest path from a source), each column in node order."""
    upstream: dict[str, list[str]] = {node["id"]: [] for node in nodes}
    for source, target in edges:
        if source in upstream and target in upstream:
            upstream[target].append(source)
    depth: dict[str, int] = {}
    for node_id in upstream:  # iterative DFS: deep chains must not hit the recursion limit
        stack = [node_id]
        while stack:
            current = stack[-1]
            pending = [up for up in upstream[current] if up not in depth and up not in stack]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            depth[current] = 1 + max((depth.get(up, 0) for up in upstream[current]), default=-1)
    columns: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in nodes:
        columns[depth[node["id"]]].append(node["id"])
    return columns


def _node(node: GraphNode, x: float, y: float) -> str:
    colour = state_colour(node["state"], node["state_type"])
    title = _clip(node["name"], 26)
    if node["kind"] == "group":
        title = f"{_clip(node['name'], 18)} {TIMES}{node['count']:,}"
    detail = [node["state"]]
    if node["kind"] == "group":
        detail.append(f"{node['done']:,}/{node['count']:,}")
    if node["duration"] is not None:
        detail.append(format_duration(node["duration"]))
    if node["kind"] == "run" and node["run_count"] > 1:
        detail.append(f"{TIMES}{node['run_count']}")
    return (
        f"<g><title>{escape(node['name'])}: {escape(node['state'])}</title>"
        f"<rect x='{x}' y='{y}' width='{_W}' height='{_H}' rx='6' fill='#fafafa' "
        f"stroke='{colour}' stroke-width='1.5'/>"
        f"<rect x='{x}' y='{y}' width='5' height='{_H}' rx='2' fill='{colour}'/>"
        f"<text x='{x + 12}' y='{y + 19}' fill='#212121' font-weight='600'>"
        f"{escape(title)}</text>"
        f"<text x='{x + 12}' y='{y + 36}' fill='{colour}'>{escape('  ·  '.join(detail))}</text>"
        "</g>"
    )


def _title(payload: GraphPayload) -> str:
    run = payload["run"]
    count = f"{payload['task_runs']:,} task run{'s' if payload['task_runs'] != 1 else ''}"
    if run is None:
        return f"Waiting for the flow run to start ({count})"
    duration = f" in {format_duration(run['duration'])}" if run["duration"] is not None else ""
    return f"{run['flow_name']} / {run['name']}: {run['state']}{duration} · {count}"


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
