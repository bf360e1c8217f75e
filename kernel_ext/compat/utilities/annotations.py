"""``prefect.utilities.annotations``: ``BaseAnnotation``, ``allow_failure``, ``quote``,
``opaque`` and ``unmapped``."""

from __future__ import annotations

from kernel_ext._annotations import BaseAnnotation, allow_failure, opaque, quote, unmapped
from kernel_ext.compat._lazy import lazy_attributes

__all__ = ["BaseAnnotation", "allow_failure", "opaque", "quote", "unmapped"]

__getattr__ = lazy_attributes(
    __name__,
    {},
    {
        "freeze": "deployment parameters are set when the notebook is promoted",
        "NotSet": "use None, or a sentinel of your own",
    },
)
