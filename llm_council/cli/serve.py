"""``llm-council serve``: the OpenAI-compatible HTTP endpoint (llm_council.http_server).

Mount on the main app with ``app.command("serve")(serve_command)``. Starlette and uvicorn
are imported only when the command runs, so ``llm-council --help`` stays fast. Usage with
the ``openai`` client and curl is in docs/http.md.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer
from rich.console import Console

from llm_council.cli.common import ConfigOpt, GatewayOpt, open_service
from llm_council.cli.errors import fail
from llm_council.textsafe import markup_text

__all__ = ["TOKEN_ENV", "is_loopback", "serve_command"]

TOKEN_ENV = "LLM_COUNCIL_SERVER_TOKEN"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            envvar=TOKEN_ENV,
            show_envvar=True,
            show_default=False,
            help="Bearer token every request must send; required off loopback. "
            f"Prefer the {TOKEN_ENV} variable (arguments are visible to other users).",
        ),
    ] = None,
    config: ConfigOpt = None,
    gateway: GatewayOpt = "auto",
    seed: Annotated[int, typer.Option(help="Sandbox seed (sandbox gateway only).")] = 0,
) -> None:
    """Serve the council as an OpenAI-compatible API: POST /v1/chat/completions with model
    "council" or "council/<tier>", and GET /v1/models.

    Streaming (stream: true) sends progress as SSE comments, then the chairman's synthesis
    as it is written.
    """
    import asyncio

    if not 0 < port < 65536:
        raise fail(f"--port must be 1..65535 (got {port})", 2)
    token = token or None  # an empty variable is no token
    if token is None and not is_loopback(host):
        raise fail(
            f"refusing to serve on {host} without a token: set {TOKEN_ENV} (or --token), "
            "or listen on 127.0.0.1",
            2,
        )
    try:
        import uvicorn

        from llm_council.http_server import create_http_app
    except ImportError as exc:
        raise fail(
            f"serve needs starlette and uvicorn ({exc.name} is missing): pip install starlette uvicorn",
            1,
        ) from None
    err = Console(stderr=True)
    service = open_service(config, gateway, seed, err)
    shown = f"[{host}]" if ":" in host else host
    auth = "bearer token required" if token else "no token (loopback only)"
    err.print(
        f"serve: OpenAI-compatible API on http://{markup_text(shown)}:{port}/v1 ({auth})",
        highlight=False,
    )
    app = create_http_app(service, token=token)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    )

    async def serve() -> None:
        try:
            await server.serve()
        finally:
            await service.aclose()  # same loop as the gateway's connections

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except OSError as exc:  # e.g. the port is taken
        raise fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}", 1) from None
    if not server.started:
        raise fail(f"cannot serve on {host}:{port} (see the message above)", 1)
