"""``llm-council eval``: run coding tasks through the council and grade the code by running it.

The sessions go through the batch runner (one orchestrator, the audition store as usual);
every seat's answer and the synthesis are then run against the task's hidden tests in
isolated processes (ADR-011), and the report compares seats, the Pareto seat, the council
and "pick the Borda winner" in solved tasks per dollar.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llm_council.choices import Tier
from llm_council.cli.common import ConfigOpt, GatewayOpt, OutputOpt, emit, print_notices
from llm_council.cli.errors import fail

if TYPE_CHECKING:
    from rich.console import Console

    from llm_council.api import Council
    from llm_council.batch_result import BatchResult
    from llm_council.council.result import SessionResult
    from llm_council.evaluation.grade import Grade
    from llm_council.evaluation.report import EvalReport
    from llm_council.evaluation.tasks import Task


class EvalFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


def eval_command(
    tasks: Annotated[
        Path | None,
        typer.Argument(help="Task file (JSONL) or directory; the bundled set when omitted."),
    ] = None,
    tier: Annotated[Tier | None, typer.Option(help="Council tier (default from config).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N tasks.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Sessions at once.")] = 4,
    max_usd: Annotated[
        float | None,
        typer.Option("--max-usd", min=0.0, help="Start no session once the estimate passes this."),
    ] = None,
    output_format: Annotated[
        EvalFormat, typer.Option("--format", help="table, json, markdown or html.")
    ] = EvalFormat.table,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    gateway: GatewayOpt = "auto",
    seed: Annotated[int, typer.Option(help="Sandbox seed (sandbox gateway only).")] = 0,
) -> None:
    """Judge the council and each seat against running code: pass rates, cost per solved task."""
    import asyncio

    from rich.console import Console

    from llm_council.api import Council
    from llm_council.audition.store_errors import StoreConfigError
    from llm_council.config import ConfigError
    from llm_council.evaluation.tasks import TaskFileError, load_tasks
    from llm_council.gateway.base import GatewayConfigError
    from llm_council.registry import RegistryError

    try:
        chosen = load_tasks(tasks)
    except TaskFileError as exc:
        raise fail(str(exc), 2) from None
    chosen = chosen[:limit] if limit else chosen
    err = Console(stderr=True)
    try:
        council = Council.from_config(config, gateway=gateway, sandbox_seed=seed)
        tier_name = tier.value if tier else council.config.council.default_tier.value
    except (ConfigError, RegistryError, GatewayConfigError, StoreConfigError, ValueError) as exc:
        raise fail(str(exc), 2) from None
    print_notices(err, council.notices)
    try:
        batch, results, grades = asyncio.run(
            _evaluate(council, chosen, tier_name, concurrency, max_usd, err)
        )
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise fail("interrupted before any session finished; nothing was graded", 130) from None
    from llm_council.evaluation.report import build_eval_report

    graded_ids = {r.session_id for r in results}
    report = build_eval_report(
        [t for t in chosen if any(g.task_id == t.id for g in grades)] or chosen,
        results,
        grades,
        tier=tier_name,
        gateway=council.gateway.kind,
    )
    _emit(report, output_format, output)
    if batch.stopped is not None:
        raise fail(
            f"partial eval: {batch.stop_reason}; {len(graded_ids)} of {len(chosen)} tasks graded",
            130 if batch.stopped == "interrupted" else 1,
        )


async def _evaluate(
    council: Council,
    tasks: list[Task],
    tier: str,
    concurrency: int,
    max_usd: float | None,
    err: Console,
) -> tuple[BatchResult, list[SessionResult], list[Grade]]:
    """Run the tasks' sessions (batch runner), then grade each stored session."""

    import asyncio

    from llm_council.batch_input import PromptItem
    from llm_council.cli.batch_progress import run_interactive
    from llm_council.evaluation.grade import grade_session

    items = [PromptItem(id=t.id, prompt=t.prompt, tier=tier, line=i) for i, t in enumerate(tasks)]
    batch = await run_interactive(council, items, tier, concurrency, max_usd, None, err)
    by_id = {t.id: t for t in tasks}
    store = council.audition.store if council.audition is not None else None
    finished = [
        o for o in batch.outcomes if o.session_id and o.status in ("ok", "partial", "failed")
    ]
    results: list[SessionResult] = []
    for outcome in finished:
        if store is None:
            break
        results.append(store.get_session(outcome.session_id or ""))
    err.print(f"grading {len(results)} session(s) by running their code ...", highlight=False)
    limiter = asyncio.Semaphore(max(2, concurrency))

    async def grade(task: Task, result: SessionResult) -> list[Grade]:
        async with limiter:
            return await asyncio.to_thread(grade_session, task, result)

    task_of = {o.session_id: by_id[o.id] for o in finished}
    graded = await asyncio.gather(*(grade(task_of[r.session_id], r) for r in results))
    return batch, results, [g for per_session in graded for g in per_session]


def _emit(report: EvalReport, output_format: EvalFormat, output: Path | None) -> None:
    import io

    from rich.console import Console

    from llm_council.evaluation.render import render_html, render_markdown, render_table

    if output_format is EvalFormat.table:
        if output is None:
            render_table(Console(), report)
            return
        console = Console(record=True, width=120, file=io.StringIO())  # plain text in a file
        render_table(console, report)
        text = console.export_text()
    elif output_format is EvalFormat.json:
        text = json.dumps(report.model_dump(mode="json"), indent=2)
    elif output_format is EvalFormat.markdown:
        text = render_markdown(report)
    else:
        text = render_html(report)
    emit(text, output, "eval report")
