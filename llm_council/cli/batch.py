"""``llm-council batch``: many prompts through one council.

Exit codes: 0 every prompt has a finished session; 1 some failed, or the budget stopped the
batch before every prompt ran; 2 bad input; 130 interrupted (``--resume`` continues).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llm_council.choices import Tier
from llm_council.cli.common import ConfigOpt, GatewayOpt, print_notices
from llm_council.cli.errors import fail

if TYPE_CHECKING:
    from llm_council.batch import BatchResult

JOURNAL_SUFFIX = ".journal.jsonl"


def batch_command(
    prompts: Annotated[
        Path, typer.Argument(help="A .txt file (one prompt per line) or .jsonl (id, prompt, tier).")
    ],
    tier: Annotated[
        Tier | None, typer.Option(help="Tier for prompts that name none (default from config).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Sessions running at once.")] = 4,
    max_usd: Annotated[
        float | None,
        typer.Option(
            "--max-usd",
            min=0.0,
            help="Start no session once the projected spend (estimates) would pass this.",
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the journal: skip prompts that already finished.")
    ] = False,
    journal: Annotated[
        Path | None,
        typer.Option(help=f"Journal file (default: PROMPTS{JOURNAL_SUFFIX} next to the prompts)."),
    ] = None,
    config: ConfigOpt = None,
    gateway: GatewayOpt = "auto",
    seed: Annotated[int, typer.Option(help="Sandbox seed (sandbox gateway only).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON summary.")] = False,
) -> None:
    """Run many prompts through one council, with bounded concurrency and a budget.

    Each session is stored in the audition store as usual. Ctrl-C interrupts the running
    sessions (stored as interrupted); `--resume` later runs only the unfinished prompts.
    """
    import asyncio

    from rich.console import Console

    from llm_council.api import Council
    from llm_council.audition.store_errors import StoreConfigError
    from llm_council.batch_input import BatchInputError, Journal, load_prompts
    from llm_council.cli.batch_progress import print_summary, run_interactive
    from llm_council.config import ConfigError
    from llm_council.gateway.base import GatewayConfigError
    from llm_council.registry import RegistryError

    try:
        items = load_prompts(prompts)
    except BatchInputError as exc:
        raise fail(str(exc), 2) from None
    book = Journal(journal or prompts.with_name(prompts.name + JOURNAL_SUFFIX))
    if book.exists() and not resume:
        raise fail(
            f"the journal {book.path} exists from an earlier run: pass --resume to continue "
            "it (finished prompts are skipped), or --journal NEW to start over",
            2,
        )
    err = Console(stderr=True)
    try:
        council = Council.from_config(config, gateway=gateway, sandbox_seed=seed)
        book.open()
    except (
        ConfigError,
        RegistryError,
        GatewayConfigError,
        StoreConfigError,
        BatchInputError,
        ValueError,
    ) as exc:
        raise fail(str(exc), 2) from None
    print_notices(err, council.notices)
    try:
        result = asyncio.run(
            run_interactive(
                council, items, tier.value if tier else None, concurrency, max_usd, book, err
            )
        )
    except BatchInputError as exc:
        raise fail(str(exc), 2) from None
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise fail("interrupted before any session started; nothing was recorded", 130) from None
    finally:
        book.close()
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        print_summary(Console(), result)
    raise _exit_for(result)


def _exit_for(result: BatchResult) -> typer.Exit:
    if result.stopped == "interrupted":
        return fail(
            f"interrupted: {result.interrupted} running session(s) stored as interrupted, "
            f"{len(result.not_started)} prompt(s) not started; run again with --resume "
            f"(journal {result.journal})",
            130,
        )
    if result.failed:
        return fail(f"{result.failed} of {len(result.outcomes)} prompt(s) failed", 1)
    if result.stopped == "budget":
        return fail(
            f"{result.stop_reason}; {len(result.not_started)} prompt(s) not started "
            "(--resume with a higher --max-usd runs them)",
            1,
        )
    return typer.Exit(0)
