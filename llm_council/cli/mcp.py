"""``llm-council mcp``: serve the council to MCP clients (Claude Code, Cursor, ...).

Mount on the main app with ``app.command("mcp")(mcp_command)``. The MCP SDK is imported only
when the command runs, so ``llm-council --help`` stays fast. Configuration snippets for the
clients are in docs/mcp.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from llm_council.cli.common import ConfigOpt, GatewayOpt, open_service
from llm_council.cli.errors import fail

__all__ = ["mcp_command"]


def mcp_command(
    http: Annotated[
        int | None,
        typer.Option(
            "--http",
            metavar="PORT",
            help="Serve streamable HTTP on http://127.0.0.1:PORT/mcp instead of stdio.",
        ),
    ] = None,
    config: ConfigOpt = None,
    gateway: GatewayOpt = "auto",
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            help="Files and directories attached to consult_council must lie under this "
            "directory (default: the current one).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Sandbox seed (sandbox gateway only).")] = 0,
) -> None:
    """Serve the council over MCP: tools consult_council, council_sessions, council_session
    and council_report.

    stdio by default (the client starts this command); --http PORT listens on 127.0.0.1 only.
    Files attached to consult_council must lie under --root (default: where it starts).
    """
    import asyncio
    import logging

    from llm_council.log import ROOT_LOGGER

    if http is not None and not 0 < http < 65536:
        raise fail(f"--http must be a port 1..65535 (got {http})", 2)
    files_root = (root or Path.cwd()).resolve()
    if not files_root.is_dir():
        raise fail(f"--root {str(root)!r} is not a directory", 2)
    err = Console(stderr=True)  # stdout is the stdio transport: nothing else may go there
    service = open_service(config, gateway, seed, err)
    if http is not None:
        err.print(f"mcp: streamable HTTP on http://127.0.0.1:{http}/mcp", highlight=False)
    # The SDK puts a handler on the root logger; ours (configured by the CLI) already shows
    # llm_council events on stderr, so stop them from being printed a second time.
    logging.getLogger(ROOT_LOGGER).propagate = False
    from llm_council.mcp_server import serve  # the SDK: only once the config is known good

    try:
        asyncio.run(serve(service, root=files_root, http_port=http))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except OSError as exc:  # e.g. the port is taken
        raise fail(f"cannot serve MCP: {exc.strerror or exc}", 1) from None
