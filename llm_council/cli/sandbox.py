"""``llm-council sandbox serve``: the simulated OpenRouter API over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer

from llm_council.cli.errors import fail

sandbox_app = typer.Typer(help="The offline OpenRouter-compatible sandbox.", no_args_is_help=True)


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
    from rich.console import Console

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
