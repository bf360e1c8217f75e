"""Notifications through Apprise: one URL reaches Slack, Teams, email, PagerDuty, a
webhook (``json://host/path``), ... (https://github.com/caronc/apprise/wiki).

Apprise is imported when the first notification is sent. A URL can hold credentials, so
messages name its scheme only.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from kernel_ext._errors import MissingDependency
from papermill_bridge.automations._failures import ActionFailed

__all__ = ["NotificationFailed", "notify"]

_INSTALL = "pip install apprise"


class NotificationFailed(ActionFailed):
    """Raised when a notification cannot be sent: its URL is not one Apprise knows, or the
    service refused or did not answer."""


def notify(url: str, subject: str, body: str) -> str:
    """Send ``subject`` and ``body`` to the Apprise ``url``; what was done, as text."""
    apprise = _apprise()
    where = _scheme(url)
    with warnings.catch_warnings():
        # Apprise loads its plugins on first use, and some import modules Python
        # deprecates (imghdr): not ours to fix, nor to turn into a failed notification.
        warnings.simplefilter("ignore", DeprecationWarning)
        client = apprise.Apprise()
        if not client.add(url):
            raise NotificationFailed(
                f"{where} is not a notification URL Apprise understands; see "
                "https://github.com/caronc/apprise/wiki for the URL of each service."
            )
        with apprise.LogCapture(level=logging.WARNING) as captured:
            delivered = client.notify(body=body, title=subject)
            problems = [line.strip() for line in captured.getvalue().splitlines() if line.strip()]
    if not delivered:
        detail = f": {problems[-1].split(' - ', 2)[-1].rstrip('.')}" if problems else ""
        raise NotificationFailed(f"The notification to {where} was not delivered{detail}.")
    return f"Notified {where}."


def _apprise() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # as in notify()
            import apprise
    except ImportError:
        raise MissingDependency(
            f"Notifications need Apprise: install it with `{_INSTALL}`.",
            module="apprise",
            install=_INSTALL,
        ) from None
    return apprise


def _scheme(url: str) -> str:
    scheme, found, _ = url.partition("://")
    return f"{scheme}://..." if found else "the notification URL"
