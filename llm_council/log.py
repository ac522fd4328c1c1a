"""structlog set-up for the CLI: JSON lines when not on a TTY, and secrets masked everywhere."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

_KEY_PATTERN = re.compile(r"sk-or-[A-Za-z0-9_\-]{4,}")
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9_\-\.]+")


def make_redactor(secrets: Iterable[str]) -> Any:
    """A structlog processor replacing known secrets and key-shaped strings with ``***``."""
    known = [s for s in secrets if s]

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            for secret in known:
                value = value.replace(secret, "***")
            return _BEARER.sub("Bearer ***", _KEY_PATTERN.sub("***", value))
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(scrub(v) for v in value)
        return value

    def processor(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
        return {k: scrub(v) for k, v in event.items()}

    return processor


class _StderrLogger:
    """Writes to whatever ``sys.stderr`` is at write time (it may be swapped after set-up)."""

    def __init__(self, *_args: Any) -> None:
        pass

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def configure_logging(
    level: str = "warning", secrets: Iterable[str] = (), json: bool | None = None
) -> None:
    """Configure structlog to write to stderr; call once from the CLI, never at import."""
    as_json = not sys.stderr.isatty() if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            make_redactor(secrets),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=_StderrLogger,
        cache_logger_on_first_use=False,
    )
