"""Logging: library events go to standard ``logging``, masked; the CLI decides what stderr shows.

Library side (:func:`get_logger`): each module logs named events with fields
(``_log.info("pareto.resolved", resolved_model=...)``) on a stdlib logger under
``llm_council``. Nothing is configured at import or by the library: no handler, no level, no
``structlog.configure()``; the application decides where records go. Every field is masked
(:mod:`llm_council.redaction`) before the record is created, so no handler ever sees a key.
A record's message reads ``event key=value ...``; ``record.event`` and ``record.event_fields``
carry the same data for structured handlers.

CLI side (:func:`configure_logging`): one stderr handler on the ``llm_council`` logger,
rendering JSON lines (or console lines on a TTY) with structlog's renderers.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

from llm_council.redaction import redact, redact_deep, register_secret

ROOT_LOGGER = "llm_council"
_CLI_HANDLER = "llm_council.cli.stderr"
_PLAIN = (str, int, float, bool, type(None))


class EventLogger:
    """Logs named events with keyword fields to a stdlib logger, secrets masked first."""

    __slots__ = ("_logger",)

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    @property
    def logger(self) -> logging.Logger:
        """The stdlib logger records go to."""
        return self._logger

    def debug(self, event: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit(logging.ERROR, event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        """``error`` plus the traceback of the exception being handled (masked, as text)."""
        self._emit(logging.ERROR, event, {**fields, "exc_info": True})

    def _emit(self, level: int, event: str, fields: Mapping[str, Any]) -> None:
        if not self._logger.isEnabledFor(level):
            return  # the caller's configuration drops it: skip the masking work too
        fields = dict(fields)
        exc_info = fields.pop("exc_info", None)
        if exc_info:
            # Rendered and masked here, not passed on as exc_info: a handler would format
            # the raw exception itself, and an exception message may hold a key.
            fields["exception"] = _traceback_text(exc_info)
        event = redact(event)
        clean = {redact(k): redact_deep(_plain(v)) for k, v in fields.items()}
        message = " ".join([event, *(f"{k}={v!r}" for k, v in clean.items() if k != "exception")])
        if "exception" in clean:
            message = f"{message}\n{clean['exception']}"
        # stacklevel 3: the record names the module that logged, not this class.
        self._logger.log(
            level, message, extra={"event": event, "event_fields": clean}, stacklevel=3
        )


def get_logger(name: str) -> EventLogger:
    """The event logger for ``name`` (a dotted name under ``llm_council``)."""
    if name != ROOT_LOGGER and not name.startswith(ROOT_LOGGER + "."):
        raise ValueError(f"logger {name!r} is not under {ROOT_LOGGER!r}")
    return EventLogger(logging.getLogger(name))


def _traceback_text(exc_info: Any) -> str:
    if isinstance(exc_info, BaseException):
        exc: BaseException | None = exc_info
    elif isinstance(exc_info, tuple):
        exc = exc_info[1]
    else:
        exc = sys.exc_info()[1]
    if exc is None:
        return "NoneType: None"
    return "".join(traceback.format_exception(exc)).rstrip("\n")


def _plain(value: Any) -> Any:
    """JSON-like data as is; anything else as its ``str`` (so masking sees the text shown)."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


# --- the CLI's terminal output --------------------------------------------------------------


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at write time (it may be swapped after set-up)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass  # StreamHandler.__init__ assigns one; we always look it up afresh


class _EventFormatter(logging.Formatter):
    """Renders a record as one JSON or console line: event, fields, level, logger, time.

    Console lines show outside text (model ids, server messages) with controls escaped.
    A traceback is shown whole only at debug level; otherwise its last line says what failed.
    """

    def __init__(self, secrets: tuple[str, ...], *, console: bool, tracebacks: bool) -> None:
        super().__init__()
        self._renderer: Any = None  # structlog's, built at the first record (fast CLI start)
        self._secrets = secrets
        # Imported here: textsafe pulls in rich, which library users of get_logger never need.
        from llm_council.textsafe import terminal_text

        self._safe = terminal_text if console else None
        self._tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "event_fields", None)
        event: dict[str, Any] = {
            "event": getattr(record, "event", None) or record.getMessage(),
            **(fields if isinstance(fields, dict) else {}),
            "level": record.levelname.lower(),
            "logger": record.name,
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
        }
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        if not self._tracebacks and isinstance(event.get("exception"), str):
            event["exception"] = event["exception"].rstrip().rpartition("\n")[2]
        # Library records arrive masked; this second pass covers anything else that
        # reaches the handler (e.g. an exception's traceback text).
        masked = redact_deep(event, *self._secrets)
        line = str(self._render()(None, record.levelname.lower(), masked))
        # JSON escapes every non-ASCII character itself; console text needs it done.
        return self._safe(line) if self._safe else line

    def _render(self) -> Any:
        if self._renderer is None:
            import structlog

            self._renderer = (
                structlog.dev.ConsoleRenderer(colors=False)
                if self._safe
                else structlog.processors.JSONRenderer()
            )
        return self._renderer


def configure_logging(
    level: str = "warning", secrets: Iterable[str] = (), json: bool | None = None
) -> None:
    """Show ``llm_council`` events at ``level`` and above on stderr; for the CLI, never at import.

    JSON lines when stderr is not a TTY (or ``json=True``), console lines otherwise.
    ``secrets`` are registered for masking process-wide. Calling again replaces the
    handler this function installed; other handlers and the root logger are left alone.
    """
    known = tuple(s.strip() for s in secrets if s and s.strip())
    for secret in known:
        register_secret(secret)
    as_json = not sys.stderr.isatty() if json is None else json
    handler = _CurrentStderrHandler()
    handler.set_name(_CLI_HANDLER)
    threshold = logging.getLevelNamesMapping()[level.upper()]
    handler.setFormatter(
        _EventFormatter(known, console=not as_json, tracebacks=threshold <= logging.DEBUG)
    )
    logger = logging.getLogger(ROOT_LOGGER)
    for old in [h for h in logger.handlers if h.get_name() == _CLI_HANDLER]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(threshold)
