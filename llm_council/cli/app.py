"""The ``llm-council`` typer app: the root options and one command group per module.

Exit codes: 0 success, 1 the work failed, 2 bad input. Command modules import only typer
and light option types at the top; the council, the store, reports and rich tables are
imported inside the command that uses them, so ``--help`` starts fast (issue: speed).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from llm_council.cli.batch import batch_command
from llm_council.cli.check import check_command
from llm_council.cli.errors import fail
from llm_council.cli.eval import eval_command
from llm_council.cli.mcp import mcp_command
from llm_council.cli.registry import registry_app
from llm_council.cli.report import report_command
from llm_council.cli.run import run_command
from llm_council.cli.sandbox import sandbox_app
from llm_council.cli.serve import serve_command
from llm_council.cli.sessions import sessions_app

app = typer.Typer(
    name="llm-council",
    help="A coding council of models with OpenRouter Pareto Router seats.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Click's plain help: rich-formatted help costs ~50 ms of imports on every start (ADR-014).
    rich_markup_mode=None,
)


@app.callback()
def _main(
    log_level: Annotated[
        str, typer.Option(envvar="LLM_COUNCIL_LOG_LEVEL", help="debug, info, warning or error.")
    ] = "warning",
) -> None:
    from llm_council.log import configure_logging

    if log_level.lower() not in {"debug", "info", "warning", "error"}:
        raise fail(f"--log-level must be debug, info, warning or error (got {log_level!r})", 2)
    configure_logging(log_level, secrets=[os.environ.get("OPENROUTER_API_KEY", "")])


app.command("run")(run_command)
app.add_typer(sessions_app, name="sessions")
app.command("report")(report_command)
app.command("check")(check_command)
app.add_typer(registry_app, name="registry")
app.command("batch")(batch_command)
app.command("eval")(eval_command)
app.command("serve")(serve_command)
app.command("mcp")(mcp_command)
app.add_typer(sandbox_app, name="sandbox")


def main() -> None:
    """The console-script entry point."""
    app()
