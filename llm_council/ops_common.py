"""Pieces the review commands share (``report``, ``check``, ``registry``): options, loading
config and registry, ``--since`` parsing, and terminal-safe table cells."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from llm_council.cli_errors import fail
from llm_council.config import ConfigError, CouncilConfig, GatewayChoice, load_config
from llm_council.paths import default_overlay_path
from llm_council.registry import Registry, RegistryError, load_registry
from llm_council.textsafe import terminal_text
from llm_council.timeutil import as_utc

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (else LLM_COUNCIL_CONFIG, ./unified_config.yaml, shipped default).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only.")]
GatewayOpt = Annotated[
    GatewayChoice, typer.Option(help="auto: OpenRouter with a key, else the sandbox.")
]
OBSERVED_SINCE = "30d"  # check / sync --from-store: the router's recent shortlist, not its history


def load_all(config_path: Path | None) -> tuple[CouncilConfig, Registry]:
    """Config and registry (with the sync overlay); a problem with either exits 2."""
    try:
        return load_config(config_path), load_registry(overlay=default_overlay_path())
    except (ConfigError, RegistryError) as exc:
        raise fail(str(exc), 2) from None


_SPAN = re.compile(r"(\d+)\s*([wdhm])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``7d``, ``2w``, ``12h``, ``30m``, a date ``2026-11-01`` or an ISO time -> aware UTC.

    A date or time without a zone is read as UTC (the store keeps UTC). ValueError otherwise.
    """
    text = value.strip()
    match = _SPAN.fullmatch(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--since takes a span (7d, 2w, 12h, 30m), a date (2026-11-01) or an ISO time "
            f"(got {value!r})"
        ) from None
    return as_utc(parsed)


def since_or_exit(value: str | None) -> datetime | None:
    """``--since`` as aware UTC, or exit 2 naming the accepted forms."""
    try:
        return parse_since(value) if value else None
    except ValueError as exc:
        raise fail(str(exc), 2) from None


def cells(*values: str) -> list[Text]:
    """Table cells from outside text: Text is never parsed as markup; controls are escaped."""
    return [Text(terminal_text(v)) for v in values]
