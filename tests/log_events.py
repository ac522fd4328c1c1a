"""Collect library log events through a real ``logging`` handler, for assertions in tests.

Unlike structlog's ``capture_logs()`` (which swaps the processor chain out), this attaches a
handler to the ``llm_council`` logger, so what a test sees went through the library's own
masking, exactly as a user's handler would receive it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _EventList(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.entries: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "event_fields", None)
        self.entries.append(
            {
                "event": getattr(record, "event", record.getMessage()),
                "log_level": record.levelname.lower(),
                "logger": record.name,
                **(fields if isinstance(fields, dict) else {}),
            }
        )


@contextmanager
def capture_events(name: str = "llm_council") -> Iterator[list[dict[str, Any]]]:
    """Events logged under ``name`` while the block runs, debug and up, as dicts.

    Each dict holds ``event``, ``log_level``, ``logger`` and the event's fields (the keys
    ``structlog.testing.capture_logs`` used, so assertions read the same).
    """
    handler = _EventList()
    logger = logging.getLogger(name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.entries
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
