"""Pieces the commands share: options, loading config and registry, ``--since``, and
terminal-safe table cells. Imports stay light so every command module can use them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llm_council.choices import GatewayChoice
from llm_council.cli.errors import fail

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rich.console import Console
    from rich.text import Text

    from llm_council.config import CouncilConfig
    from llm_council.registry import Registry
    from llm_council.service import CouncilService

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (else LLM_COUNCIL_CONFIG, ./unified_config.yaml, shipped default).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only.")]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
]
GatewayOpt = Annotated[
    GatewayChoice, typer.Option(help="auto: OpenRouter with a key, else the sandbox.")
]
OBSERVED_SINCE = "30d"  # check / sync --from-store: the router's recent shortlist, not its history


def load_all(config_path: Path | None) -> tuple[CouncilConfig, Registry]:
    """Config and registry (with the sync overlay); a problem with either exits 2."""
    from llm_council.config import ConfigError, load_config
    from llm_council.paths import default_overlay_path
    from llm_council.registry import RegistryError, load_registry

    try:
        return load_config(config_path), load_registry(overlay=default_overlay_path())
    except (ConfigError, RegistryError) as exc:
        raise fail(str(exc), 2) from None


def since_or_exit(value: str | None) -> datetime | None:
    """``--since`` as aware UTC, or exit 2 naming the accepted forms."""
    from llm_council.timeutil import parse_since

    try:
        return parse_since(value) if value else None
    except ValueError as exc:
        raise fail(str(exc), 2) from None


def cells(*values: str) -> list[Text]:
    """Table cells from outside text: Text is never parsed as markup; controls are escaped."""
    from rich.text import Text

    from llm_council.textsafe import terminal_text

    return [Text(terminal_text(v)) for v in values]


def print_notices(err: Console, notices: Iterable[str]) -> None:
    """Notices for the user (e.g. the sandbox fallback), one yellow line each on ``err``."""
    from llm_council.textsafe import markup_text

    for notice in notices:
        err.print(f"[yellow]{markup_text(notice)}[/yellow]", highlight=False, emoji=False)


def open_service(
    config_path: Path | None, gateway: GatewayChoice, seed: int, err: Console
) -> CouncilService:
    """The council service the config describes, its notices said on ``err``; a bad config,
    registry, gateway choice or store URL exits 2."""
    from llm_council.audition.store_errors import StoreConfigError
    from llm_council.config import ConfigError
    from llm_council.gateway.base import GatewayConfigError
    from llm_council.registry import RegistryError
    from llm_council.service import CouncilService

    try:
        service = CouncilService.from_config(config_path, gateway=gateway, sandbox_seed=seed)
    except (ConfigError, RegistryError, GatewayConfigError, StoreConfigError, ValueError) as exc:
        raise fail(str(exc), 2) from None
    print_notices(err, service.notices)
    return service


def emit(text: str, output: Path | None, what: str) -> None:
    """``text`` on stdout, or into ``--output`` with a line on stderr saying where; a file
    that cannot be written is bad input (exit 2)."""
    if output is None:
        typer.echo(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write --output {output}: {exc.strerror or exc}", 2) from None
    from rich.console import Console

    from llm_council.textsafe import markup_text

    Console(stderr=True).print(f"{what} written to {markup_text(str(output))}", highlight=False)
