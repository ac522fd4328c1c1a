"""Record finished sessions in the audition store without ever failing the session."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from llm_council.audition.store import AuditionStore, AuditionStoreError
from llm_council.council.result import CallRecord, SessionResult
from llm_council.log import get_logger
from llm_council.paths import user_data_dir
from llm_council.registry import Registry

_log = get_logger("llm_council.audition")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


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
    """Writes each session; on a store failure keeps the record in a spill file instead."""

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

    def record(self, result: SessionResult) -> str | None:
        """Store ``result``; return None, or a one-line message saying where it went instead.

        Never raises for a store failure: the session it describes has already succeeded.
        Blocking; async callers run it with ``asyncio.to_thread``.
        """
        try:
            self.store.write_session(result, self.registry)
            return None
        except AuditionStoreError as exc:
            error = str(exc)
        except Exception as exc:  # a bug here must not cost the user their answer
            error = f"unexpected {type(exc).__name__} writing to {self.store.url_for_humans}: {exc}"
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
