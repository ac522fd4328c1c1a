"""Record finished sessions in the audition store without ever failing the session."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import structlog

from llm_council.audition.store import AuditionStore, AuditionStoreError
from llm_council.council.result import CallRecord, SessionResult
from llm_council.paths import user_data_dir
from llm_council.registry import Registry

_log = structlog.get_logger("llm_council.audition")


class AuditionLogger:
    """Writes each session; on a store failure keeps the record in a spill file instead."""

    def __init__(
        self, store: AuditionStore, registry: Registry, spill_dir: Path | None = None
    ) -> None:
        self.store = store
        self.registry = registry
        self._spill_dir = spill_dir

    def record(self, result: SessionResult) -> str | None:
        """Store ``result``; return None, or a one-line message saying where it went instead."""
        try:
            self.store.write_session(result, self.registry)
            return None
        except AuditionStoreError as exc:
            spilled = self._spill(result)
            where = f"kept in {spilled}" if spilled else "and could not be saved anywhere else"
            message = f"audition store unavailable: {exc}; this session's record was {where}"
            _log.error(
                "audition.write_failed",
                session_id=result.session_id,
                error=str(exc),
                spill=str(spilled),
            )
            return message

    def _spill(self, result: SessionResult) -> Path | None:
        payload = result.model_dump_json(indent=2)
        payload_calls = [c.model_dump(mode="json") for c in result.calls]
        import json

        data = json.dumps({"session": json.loads(payload), "calls": payload_calls}, indent=2)
        for base in (
            self._spill_dir,
            user_data_dir() / "unsent",
            Path(tempfile.gettempdir()) / "llm-council-unsent",
        ):
            if base is None:
                continue
            try:
                base.mkdir(parents=True, exist_ok=True)
                path = base / f"{result.session_id}.json"
                path.write_text(data, encoding="utf-8")
                return path
            except OSError:
                continue
        return None


def spill_dirs() -> tuple[Path, Path]:
    """Where records go when the store cannot take them, in order of preference."""
    return user_data_dir() / "unsent", Path(tempfile.gettempdir()) / "llm-council-unsent"


def import_spilled(
    store: AuditionStore, registry: Registry, directories: tuple[Path, ...] | None = None
) -> tuple[list[str], list[str]]:
    """Write spilled session files into the store, deleting each one once it is stored.

    Returns (imported session ids, problems). A file that cannot be read or written stays.
    """
    imported: list[str] = []
    problems: list[str] = []
    for directory in directories or spill_dirs():
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
            path.unlink()
            imported.append(result.session_id)
    return imported, problems
