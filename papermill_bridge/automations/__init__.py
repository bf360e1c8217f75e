"""Evaluating automations and acting on their firings (``taskbook serve`` does both).

The evaluator is pure (``react``, ``expire``: events, windows and the clock in, firings
out); the scheduler keeps the windows (``Buckets``) and the firings in the store, and
runs each firing's actions (``act``) once.
"""

from __future__ import annotations

from papermill_bridge.automations._act import (
    ActionFailed,
    ActionResult,
    ActionsFailed,
    act,
    run_action,
)
from papermill_bridge.automations._buckets import Bucket, BucketKey, Buckets
from papermill_bridge.automations._evaluate import (
    DEFAULT_GRACE,
    EXPIRED_BUCKET_BUFFER,
    PRECEDING_EVENT_LOOKBACK,
    causal_order,
    expire,
    react,
)
from papermill_bridge.automations._firings import Firing
from papermill_bridge.automations._notify import NotificationFailed
from papermill_bridge.automations._runner import AutomationRunner
from papermill_bridge.automations._step import (
    StepOutcome,
    bucket_from_row,
    bucket_to_row,
    evaluate_batch,
    event_names,
)

__all__ = [
    "DEFAULT_GRACE",
    "EXPIRED_BUCKET_BUFFER",
    "PRECEDING_EVENT_LOOKBACK",
    "ActionFailed",
    "ActionResult",
    "ActionsFailed",
    "AutomationRunner",
    "Bucket",
    "BucketKey",
    "Buckets",
    "Firing",
    "NotificationFailed",
    "StepOutcome",
    "act",
    "bucket_from_row",
    "bucket_to_row",
    "causal_order",
    "evaluate_batch",
    "event_names",
    "expire",
    "react",
    "run_action",
]
