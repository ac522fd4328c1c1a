"""Record finished sessions in the audition store without ever failing the session."""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from llm_council.audition.store import (
    AuditionStore,
    AuditionStoreError,
    SessionRowsRejectedError,
)
from llm_council.council.result import CallRecord, SessionResult
from llm_council.log import get_logger
from llm_council.paths import user_data_dir
from llm_council.registry import Registry

_log = get_logger("llm_council.audition")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
# Sessions written in one transaction at most; more wait for the next one.
_MAX_BATCH = 200


def spill_dirs() -> tuple[Path, ...]:
    """Where records go when the store cannot take them, in order of preference.

    The temp-dir fallback is per user: spilled records hold prompts and answers.
    """
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return (
        user_data_dir() / "unsent",
        Path(tempfile.gettempdir()) / f"llm-council-unsent-{uid}",
    )


class AuditionLogger:
    """Writes each session; on a store failure keeps the record in a spill file instead.

    Writes go through one writer thread per logger (ADR-016): the event loop only hands a
    session over, and sessions that finish while a write is under way are written together
    in the next transaction (one commit, one insert per table), so concurrent sessions
    neither wait on each other's commits nor queue on SQLite's lock (or on the event loop's
    default thread pool, which DNS lookups also need). One thread means one connection.
    """

    def __init__(
        self,
        store: AuditionStore,
        registry: Registry,
        spill_to: Sequence[Path] | None = None,
    ) -> None:
        """``spill_to``: directories to try, in order, when the store fails (default spill_dirs())."""
        self.store = store
        self.registry = registry
        self._spill_to = tuple(spill_to) if spill_to is not None else None
        self._lock = threading.Lock()
        self._pending: list[tuple[SessionResult, Future[str | None]]] = []
        self._writer: ThreadPoolExecutor | None = None
        self._draining = False
        _LOGGERS.add(self)

    def record(self, result: SessionResult) -> str | None:
        """Store ``result``; return None, or a one-line message saying where it went instead.

        Never raises for a store failure: the session it describes has already succeeded.
        Blocking (it waits for the writer thread); async callers use ``arecord``.
        """
        return self._submit(result).result()

    async def arecord(self, result: SessionResult) -> str | None:
        """``record`` for the event loop: the write runs on the writer thread, and goes on
        to the end if the caller is cancelled meanwhile."""
        return await asyncio.wrap_future(self._submit(result))

    def close(self) -> None:
        """Finish the writes handed over so far and stop the writer thread (made again on
        the next write). Pending writes also finish at interpreter exit."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=True)

    def _submit(self, result: SessionResult) -> Future[str | None]:
        future: Future[str | None] = Future()
        with self._lock:
            self._pending.append((result, future))
            if not self._draining:
                if self._writer is None:
                    _hook_fork()
                    self._writer = ThreadPoolExecutor(1, thread_name_prefix="llm-council-audition")
                self._writer.submit(self._drain)
                self._draining = True
        return future

    def _drain(self) -> None:
        """On the writer thread: write what is pending, batch by batch, until none is."""
        while True:
            with self._lock:
                batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
                if not batch:
                    self._draining = False
                    return
            try:
                outcomes = self._write([result for result, _ in batch])
            except BaseException as exc:  # a bug: every caller hears of it, none hangs
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                future.set_result(outcome)

    def _write(self, results: list[SessionResult]) -> list[str | None]:
        if len(results) == 1:
            return [self._write_one(results[0])]
        try:
            self.store.write_sessions(results, self.registry)
            return [None] * len(results)
        except SessionRowsRejectedError:
            pass  # one of them is at fault: one by one, the others are kept
        except AuditionStoreError as exc:
            return [self._kept_elsewhere(r, str(exc)) for r in results]  # the store is down
        except Exception:  # a bug here must not cost the others their record: one by one
            pass
        return [self._write_one(result) for result in results]

    def _write_one(self, result: SessionResult) -> str | None:
        try:
            self.store.write_session(result, self.registry)
            return None
        except AuditionStoreError as exc:
            error = str(exc)
        except Exception as exc:  # a bug here must not cost the user their answer
            error = f"unexpected {type(exc).__name__} writing to {self.store.url_for_humans}: {exc}"
        return self._kept_elsewhere(result, error)

    def _kept_elsewhere(self, result: SessionResult, error: str) -> str:
        spilled = self._spill(result)
        kept = (
            f"the record was kept in {spilled} (`llm-council sessions import-unsent` stores it later)"
            if spilled
            else "the record could not be saved anywhere else either"
        )
        message = f"audition store unavailable: {error}; {kept}"
        _log.error(
            "audition.write_failed",
            session_id=result.session_id,
            store=self.store.url_for_humans,
            error=error,
            spill=str(spilled) if spilled else None,
        )
        return " ".join(message.split())  # one line, whatever the driver's message held

    def _spill(self, result: SessionResult) -> Path | None:
        # ``calls`` is excluded from the session JSON, so it is saved alongside.
        data = json.dumps(
            {
                "session": result.model_dump(mode="json"),
                "calls": [c.model_dump(mode="json") for c in result.calls],
            },
            indent=2,
        )
        name = _UNSAFE_NAME.sub("_", result.session_id) or "session"
        for directory in self._spill_to if self._spill_to is not None else spill_dirs():
            try:
                return _write_private(directory, f"{name}.json", data)
            except OSError:
                continue
        return None


_LOGGERS: weakref.WeakSet[AuditionLogger] = weakref.WeakSet()


def _forget_writers() -> None:
    """In a forked child: the writer threads did not come along; start afresh."""
    for logger in list(_LOGGERS):
        logger._lock = threading.Lock()
        logger._pending, logger._writer, logger._draining = [], None, False


_fork_hook = threading.Lock()
_fork_hooked = False


def _hook_fork() -> None:
    """Register ``_forget_writers`` for forks, once, when the first writer starts (not at
    import: importing this module does nothing)."""
    global _fork_hooked
    with _fork_hook:
        if not _fork_hooked and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_forget_writers)
        _fork_hooked = True


def _write_private(directory: Path, name: str, data: str) -> Path:
    """Write ``data`` to ``directory/name`` readable by the owner only, atomically."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = directory / name
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        # The rename is atomic: import-unsent never reads a half-written file.
        os.replace(tmp, target)
        return target
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def import_spilled(
    store: AuditionStore, registry: Registry, directories: Sequence[Path] | None = None
) -> tuple[list[str], list[str]]:
    """Write spilled session files into the store, deleting each one once it is stored.

    Returns (imported session ids, problems). A file that cannot be read or written stays.
    """
    imported: list[str] = []
    problems: list[str] = []
    for directory in directories if directories is not None else spill_dirs():
        for path in sorted(directory.glob("*.json")) if directory.is_dir() else ():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                result = SessionResult.model_validate(raw["session"])
                result.calls = [CallRecord.model_validate(c) for c in raw.get("calls", [])]
                store.write_session(result, registry)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                problems.append(f"{path}: {exc}")
                continue
            except AuditionStoreError as exc:
                problems.append(f"{path}: {exc}")
                return imported, problems  # the store is still down; keep the rest for later
            imported.append(result.session_id)
            try:
                path.unlink()
            except OSError as exc:
                # Stored already; a later import finds it stored and only retries the removal.
                problems.append(f"{path}: stored, but the file could not be removed: {exc}")
    return imported, problems
