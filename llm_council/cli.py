"""The ``llm-council`` command line. Exit codes: 0 success, 1 the work failed, 2 bad input."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from llm_council.audition.sessions_cli import sessions_app
from llm_council.cli_errors import fail
from llm_council.config import ConfigError
from llm_council.gateway.base import GatewayConfigError
from llm_council.log import configure_logging
from llm_council.ops_cli import check_command, registry_app, report_command
from llm_council.registry import RegistryError

app = typer.Typer(
    name="llm-council",
    help="A coding council of models with OpenRouter Pareto Router seats.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sandbox_app = typer.Typer(help="The offline OpenRouter-compatible sandbox.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")


class TierChoice(StrEnum):
    quick = "quick"
    balanced = "balanced"
    high = "high"
    reasoning = "reasoning"
    frontier = "frontier"


class ModeChoice(StrEnum):
    coding = "coding"
    general = "general"


class GatewayOption(StrEnum):
    auto = "auto"
    sandbox = "sandbox"
    openrouter = "openrouter"


class PolicyChoice(StrEnum):
    flag = "flag"
    collapse = "collapse"
    reroute = "reroute"


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (else LLM_COUNCIL_CONFIG, ./unified_config.yaml, shipped default).",
    ),
]


@app.callback()
def _main(
    log_level: Annotated[
        str, typer.Option(envvar="LLM_COUNCIL_LOG_LEVEL", help="debug, info, warning or error.")
    ] = "warning",
) -> None:
    if log_level.lower() not in {"debug", "info", "warning", "error"}:
        raise fail(f"--log-level must be debug, info, warning or error (got {log_level!r})", 2)
    configure_logging(log_level, secrets=[os.environ.get("OPENROUTER_API_KEY", "")])


def _read_prompt(prompt: str | None, file: Path | None) -> str:
    if prompt is not None and file is not None:
        raise fail("give the prompt as an argument or with --file, not both", 2)
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot read --file {file}: {exc.strerror}", 2) from None
    if prompt is None or prompt == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise fail("no prompt: pass it as an argument, with --file, or on stdin", 2)
        return sys.stdin.read()
    return prompt


@app.command()
def run(
    prompt: Annotated[
        str | None, typer.Argument(help="The question; '-' or omitted reads stdin.")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the prompt from a file.")
    ] = None,
    tier: Annotated[
        TierChoice | None, typer.Option(help="Council tier (default from config).")
    ] = None,
    mode: Annotated[ModeChoice | None, typer.Option(help="coding (default) or general.")] = None,
    config: ConfigOpt = None,
    chairman: Annotated[str | None, typer.Option(help="Chairman model id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON result.")] = False,
    gateway: Annotated[
        GatewayOption, typer.Option(help="auto: OpenRouter with a key, else the sandbox.")
    ] = GatewayOption.auto,
    duplicate_policy: Annotated[
        PolicyChoice | None, typer.Option(help="flag, collapse or reroute.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Sandbox seed (sandbox gateway only).")] = 0,
) -> None:
    """Run one council session and show the seats, ranking and synthesis."""
    from llm_council.api import Council

    text = _read_prompt(prompt, file)
    if not text.strip():
        raise fail("the prompt is empty", 2)
    err = Console(stderr=True)
    try:
        council = Council.from_config(config, gateway=gateway.value, sandbox_seed=seed)
        plan = council.plan(tier.value if tier else None, mode.value if mode else None, chairman)
    except (ConfigError, RegistryError, GatewayConfigError, ValueError) as exc:
        raise fail(str(exc), 2) from None
    for notice in (*council.notices, *plan.notices):
        err.print(f"[yellow]{notice}[/yellow]", highlight=False)
    result = asyncio.run(
        _run_session(council, text, plan, chairman, duplicate_policy, as_json, err)
    )
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        from llm_council.render import render_result

        render_result(Console(), result)
    if result.status == "failed":
        causes = "; ".join(
            f"{s.seat_id} {s.requested_model}: {s.status}: {s.error}" for s in result.seats
        )
        raise fail(f"no seat answered ({causes})", 1)


async def _run_session(council, text, plan, chairman, policy, as_json, err):  # type: ignore[no-untyped-def]
    from llm_council.render import LiveProgress

    kwargs = {
        "chairman": chairman,
        "duplicate_policy": policy.value if policy else None,
    }
    try:
        if as_json or not err.is_terminal:
            return await council.run(text, plan.tier, plan.mode, **kwargs)
        with LiveProgress(err, plan) as progress:
            return await council.run(text, plan.tier, plan.mode, progress=progress, **kwargs)
    finally:
        await council.aclose()


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Seed for the synthetic answers.")] = 0,
    latency_ms: Annotated[
        float, typer.Option(min=0, help="Simulated latency of a median-speed model, ms.")
    ] = 2.0,
    fixed_latency: Annotated[
        bool, typer.Option(help="Every model takes exactly --latency-ms (no per-model speeds).")
    ] = False,
) -> None:
    """Serve the simulated OpenRouter API (``/api/v1``) over HTTP for other tools and tests."""
    from llm_council.sandbox import SandboxOptions
    from llm_council.sandbox.server import serve

    if not 0 < port < 65536:
        raise fail(f"--port must be 1..65535 (got {port})", 2)
    Console(stderr=True).print(
        f"sandbox: simulated OpenRouter on http://{host}:{port}/api/v1 (answers are synthetic)",
        highlight=False,
    )
    options = SandboxOptions(seed=seed, latency_ms=latency_ms, scale_latency=not fixed_latency)
    serve(host=host, port=port, options=options)


app.add_typer(sessions_app, name="sessions")
app.command("report")(report_command)
app.command("check")(check_command)
app.add_typer(registry_app, name="registry")


def main() -> None:
    app()
