"""The public Python API: ``Council.from_config()`` then ``await council.run(prompt)``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llm_council.attachments import Attachment, EarlierTurn, render_block
from llm_council.audition.store_errors import InvalidSessionIdError, SessionNotFoundError
from llm_council.choices import TIERS, DuplicatePolicy, GatewayChoice, Mode
from llm_council.config import CouncilConfig, load_config
from llm_council.council.estimate import check_cap, estimate_session
from llm_council.council.plan import SessionPlan, plan_session
from llm_council.council.preflight import PlanChecks, PreflightError, plan_checks, preflight
from llm_council.council.result import SessionResult
from llm_council.council.session import ProgressListener, SessionRunner
from llm_council.gateway.base import Gateway, GatewayError
from llm_council.gateway.factory import make_gateway
from llm_council.log import get_logger
from llm_council.paths import default_overlay_path
from llm_council.registry import Registry, load_registry
from llm_council.telemetry import capture_content_from_env, record_session

if TYPE_CHECKING:
    from llm_council.audition.logger import AuditionLogger

_log = get_logger("llm_council")
SANDBOX_RESULT_NOTICE = (
    "sandbox output: every answer in this session is simulated, not written by a real model"
)


class FollowUpError(ValueError):
    """The session a follow-up names cannot be found (bad input: CLI exit 2, HTTP 400)."""


class Council:
    """A configured council bound to one gateway (one pooled HTTP client) and an audition log."""

    def __init__(
        self,
        config: CouncilConfig,
        registry: Registry,
        gateway: Gateway,
        *,
        audition: AuditionLogger | None = None,
        notices: tuple[str, ...] = (),
    ) -> None:
        self.config = config
        self.registry = registry
        self.gateway = gateway
        self.audition = audition
        self.notices = notices  # said once by the caller (e.g. the sandbox fallback)
        self._loop: asyncio.AbstractEventLoop | None = None
        # Per-session work that depends only on the (frozen) config and registry objects,
        # kept while ``self.config`` and ``self.registry`` are the same objects: hashing the
        # config costs more than the rest of a session's bookkeeping.
        self._hash_of: tuple[CouncilConfig, str] | None = None
        self._plans_of: tuple[CouncilConfig, Registry] | None = None
        self._plans: dict[tuple[str, str, str | None], tuple[SessionPlan, PlanChecks]] = {}

    @classmethod
    def from_config(
        cls,
        path: str | Path | None = None,
        *,
        gateway: GatewayChoice = "auto",
        env: Mapping[str, str] | None = None,
        audition: bool = True,
        sandbox_seed: int = 0,
    ) -> Council:
        """Load config and registry, pick the gateway (sandbox without a key), open the store."""
        config = load_config(path, env)
        registry = load_registry(overlay=default_overlay_path())
        pool_models = {e.model for t in TIERS for e in config.pool(t).models}
        for model in sorted(registry.unknown(pool_models | {config.council.chairman})):
            _log.warning("registry.unknown_model", model=model, hint="prices and family unknown")
        chosen = make_gateway(config, registry, gateway, env, sandbox_seed=sandbox_seed)
        logger = None
        if audition:
            from llm_council.audition.logger import AuditionLogger
            from llm_council.audition.store import open_store

            logger = AuditionLogger(open_store(config), registry)
        notices = (chosen.notice,) if chosen.notice else ()
        return cls(config, registry, chosen.gateway, audition=logger, notices=notices)

    async def run(
        self,
        prompt: str,
        tier: str | None = None,
        mode: Mode | None = None,
        *,
        chairman: str | None = None,
        duplicate_policy: DuplicatePolicy | None = None,
        progress: ProgressListener | None = None,
        session_id: str | None = None,
        strict: bool = False,
        on_interrupt: Callable[[SessionResult], None] | None = None,
        on_synthesis_delta: Callable[[str], None] | None = None,
        max_usd: float | None = None,
        attachments: Sequence[Attachment] = (),
        parent_session_id: str | None = None,
        parent_in_prompt: bool = True,
    ) -> SessionResult:
        """Run one council session and record it in the audition store.

        ``attachments`` (``llm_council.attachments``) go to every seat's answer request and
        to the chairman as a delimited data block after the question; the stored ``prompt``
        stays the question alone, and the store keeps each attachment's hash and size only.
        ``parent_session_id`` (an id or unique prefix of a stored session) makes this a
        follow-up: linked to it, with its tier and mode as defaults, and (unless
        ``parent_in_prompt`` is False, for a caller whose prompt already carries the
        conversation) its question and synthesis sent as labelled data (``FollowUpError``
        when it cannot be found).

        Before any paid call the plan is checked (``PreflightError``, a ``ValueError``, when
        the prompt cannot fit a seat, under ``strict`` when a model id is unknown, or when the
        estimated cost is above ``max_usd``; see ``council.estimate``). If the
        run is cancelled, the session so far is stored with status ``interrupted``, handed to
        ``on_interrupt``, and the cancellation propagates.
        """
        if not prompt or not prompt.strip():
            raise ValueError("the prompt is empty")
        parent = await self._parent(parent_session_id) if parent_session_id else None
        if parent is not None:
            tier, mode = tier or parent.tier, mode or parent.mode
        plan, checks = self._plan_and_checks(tier, mode, chairman)
        earlier = None
        if parent is not None and parent_in_prompt:
            earlier = EarlierTurn(parent.session_id, parent.prompt, parent.synthesis)
        context = render_block(attachments, earlier=earlier)
        # Checked and priced with the data block: every seat reads it (reviews are
        # over-counted by it, an estimate on the safe side).
        sent = f"{prompt}\n\n{context}" if context else prompt
        warnings = await self._preflight(plan, sent, strict=strict, checks=checks)
        if max_usd is not None:
            check_cap(estimate_session(plan, self.registry, sent), max_usd)
        runner = SessionRunner(
            self.gateway,
            self.registry,
            exclude_self_votes=self.config.council.exclude_self_votes,
            duplicate_policy=duplicate_policy or self.config.council.duplicate_policy,
            progress=progress,
            judges=self.config.council.judges,
            context=context,
        )

        def stamp(result: SessionResult) -> None:
            result.attachments = [a.record() for a in attachments]
            result.parent_session_id = parent.session_id if parent is not None else None

        async def keep_interrupted(result: SessionResult) -> None:
            stamp(result)
            await self._finish(result, warnings)
            if on_interrupt is not None:
                on_interrupt(result)

        result = await runner.run(
            plan,
            prompt,
            session_timeout_s=self.config.session_timeout_s(plan.tier),
            session_id=session_id,
            on_interrupted=keep_interrupted,
            on_synthesis_delta=on_synthesis_delta,
        )
        stamp(result)
        await self._finish(result, warnings)
        return result

    async def _parent(self, session_id: str) -> SessionResult:
        """The stored session a follow-up continues (full id or unique prefix)."""
        if self.audition is None:
            raise FollowUpError("a follow-up needs the audition store, and this council has none")
        store = self.audition.store
        try:
            return await asyncio.to_thread(store.get_session, session_id)
        except (InvalidSessionIdError, SessionNotFoundError) as exc:
            raise FollowUpError(f"cannot follow up: {exc}") from None

    async def _preflight(
        self, plan: SessionPlan, prompt: str, *, strict: bool, checks: PlanChecks | None = None
    ) -> list[str]:
        """Refuse before any paid call what cannot work; return the warnings to keep."""
        checks = checks if checks is not None else plan_checks(plan, self.registry)
        listed: list[str] | None = None
        notes: list[str] = []
        if self.gateway.kind == "openrouter" and checks.unknown:
            try:
                listed = [m["id"] for m in await self.gateway.list_models() if "id" in m]
            except GatewayError as exc:
                notes.append(f"could not fetch the gateway's model list to check ids: {exc}")
        findings = preflight(plan, self.registry, prompt, listed_models=listed, checks=checks)
        refusals = [f.message for f in findings if f.level == "refusal"]
        warnings = [f.message for f in findings if f.level == "warning"]
        if refusals:
            raise PreflightError(refusals[0] + " (nothing was called)")
        if strict and warnings:
            raise PreflightError("refused under --strict before any call: " + "; ".join(warnings))
        for warning in warnings:
            _log.warning("council.preflight_warning", detail=warning)
        return notes + warnings

    async def _finish(self, result: SessionResult, warnings: list[str]) -> None:
        """Stamp, annotate and record a finished or interrupted session."""
        result.config_hash = self._config_hash()
        result.notices[:0] = warnings
        if self.gateway.kind == "sandbox":
            result.notices.insert(0, SANDBOX_RESULT_NOTICE)
        if self.audition is not None:
            # The write happens after the answer exists, off the event loop, and is not
            # abandoned if the caller is cancelled again while it runs.
            write = asyncio.ensure_future(self.audition.arecord(result))
            problem = await asyncio.shield(write)
            if problem:
                result.storage_problem = problem
                result.notices.append(problem)
        # One span per call under a session span when OpenTelemetry is installed and set up;
        # a no-op otherwise. Prompt and answer text only with the standard opt-in variable.
        record_session(result, capture_content=capture_content_from_env(os.environ))

    def plan(
        self, tier: str | None = None, mode: Mode | None = None, chairman: str | None = None
    ) -> SessionPlan:
        """The seats a session would have: ``ValueError`` for an unknown tier or mode."""
        return self._plan_and_checks(tier, mode, chairman)[0]

    def _plan_and_checks(
        self, tier: str | None, mode: Mode | None, chairman: str | None
    ) -> tuple[SessionPlan, PlanChecks]:
        """The plan and its prompt-independent preflight checks. Both depend only on the
        config and registry, which are frozen: they are built once per (tier, mode, chairman)
        while ``self.config`` and ``self.registry`` stay the same objects."""
        tier = tier or self.config.council.default_tier.value
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; tiers are {', '.join(TIERS)}")
        mode = mode or self.config.council.mode
        if mode not in ("coding", "general"):
            raise ValueError(f"unknown mode {mode!r}; modes are coding, general")
        kept = self._plans_of
        if kept is None or kept[0] is not self.config or kept[1] is not self.registry:
            self._plans_of, self._plans = (self.config, self.registry), {}
        key = (tier, mode, chairman)
        cached = self._plans.get(key)
        if cached is None:
            plan = plan_session(self.config, tier, mode, chairman)
            cached = self._plans[key] = (plan, plan_checks(plan, self.registry))
        plan = cached[0]
        if not plan.seats:
            raise ValueError(f"tier {tier!r} has no seat left in {mode} mode: {plan.notices}")
        return cached

    def _config_hash(self) -> str:
        """``config.config_hash()``, computed once per config object (configs are frozen)."""
        if self._hash_of is None or self._hash_of[0] is not self.config:
            self._hash_of = (self.config, self.config.config_hash())
        return self._hash_of[1]

    def run_sync(
        self, prompt: str, tier: str | None = None, mode: Mode | None = None, **kw: object
    ) -> SessionResult:
        """Blocking ``run`` for scripts; successive calls share one event loop and HTTP client."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "run_sync() cannot run inside a running event loop; use `await council.run(...)`"
            )
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self.run(prompt, tier, mode, **kw))  # type: ignore[arg-type]

    async def aclose(self) -> None:
        await self.gateway.aclose()

    def close(self) -> None:
        """Release the HTTP client (and the private loop of ``run_sync``)."""
        if self._loop is not None:
            self._loop.run_until_complete(self.aclose())
            self._loop.close()
            self._loop = None
        else:
            asyncio.run(self.aclose())

    async def __aenter__(self) -> Council:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()
