"""``check`` compares the shortlist snapshot with the shortlist the router really listed.

The router's account comes from OpenRouter's ``openrouter_metadata`` (docs: Router Metadata,
https://openrouter.ai/docs/guides/features/router-metadata): ``endpoints.available`` lists
the endpoints the router could use for that request, so over many calls of one Pareto band
it is the band's live shortlist. The store here is written through the real store API.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from llm_council.audition.report_router import observe_shortlist
from llm_council.audition.store import AuditionStore
from llm_council.check import MIN_CALLS_FOR_ABSENCE, observe_store, run_check
from llm_council.council.result import SessionResult
from llm_council.gateway.router_metadata import RouterAttempt, RouterCandidate, RouterMetadata
from llm_council.registry import load_registry
from tests.audition_data import PARETO, make_session
from tests.council_helpers import make_config
from tests.pg import postgres_server, postgres_url  # noqa: F401  (fixtures)

REGISTRY = load_registry()
MINI, SONNET, KIMI, GROK = (
    "openai/gpt-5.4-mini",
    "anthropic/claude-sonnet-4.6",
    "moonshotai/kimi-k2.6",
    "x-ai/grok-4.3",
)
FLASH = "google/gemini-3-flash-preview"  # in the registry, on no shortlist band
DS_FLASH = "deepseek/deepseek-v4-flash"  # the snapshot's low band
NEW = "brand/new-coder-1"  # unknown to the registry


def with_router(result: SessionResult, listed: list[str], failed: tuple[str, ...] = ()):
    """``result`` with router metadata on each of its Pareto calls: ``listed`` available (the
    first one selected, and each listed by two providers), ``failed`` attempted first."""
    meta = RouterMetadata(
        strategy="pareto",
        candidates=tuple(
            RouterCandidate(model=m, provider=p, selected=(i == 0 and p == "A"))
            for i, m in enumerate(listed)
            for p in ("A", "B")
        ),
        attempts=(
            *(RouterAttempt(model=m, status=503) for m in failed),
            RouterAttempt(model=listed[0], status=200),
        ),
    )
    calls = [c.model_copy(update={"router": meta}) if c.requested_model == PARETO else c for c in result.calls]  # fmt: skip
    return result.model_copy(update={"calls": calls})


def store_with(path, sessions) -> AuditionStore:
    store = AuditionStore(f"sqlite:///{path}")
    for result in sessions:
        assert store.write_session(result, REGISTRY)
    return store


NOW = datetime.now(UTC).replace(microsecond=0)


def recent(n: int, listed: list[str], start: int = 0) -> list[SessionResult]:
    """``n`` balanced sessions (Pareto seat at 0.5: the medium band) from a day ago, with 2
    Pareto calls each (answer and review)."""
    return [
        with_router(make_session(start + i, created_at=NOW - timedelta(days=1, minutes=-i)), listed)
        for i in range(n)
    ]


def test_observed_shortlist_per_band(tmp_path):
    old = [with_router(make_session(99, created_at=NOW - timedelta(days=90)), [GROK])]
    store = store_with(tmp_path / "a.db", [*recent(3, [MINI, KIMI, FLASH]), *old])
    observed = observe_shortlist(store, REGISTRY)
    (medium,) = observed.bands
    # 4 sessions x 2 Pareto calls; each model counted once per call despite two providers.
    assert (medium.band, medium.calls) == ("medium", 8)
    assert [(m.model, m.seen, m.selected) for m in medium.models] == [
        (FLASH, 6, 0),
        (KIMI, 6, 0),
        (MINI, 6, 6),
        (GROK, 2, 2),
    ]
    recent_only = observe_shortlist(store, REGISTRY, since=NOW - timedelta(days=30))
    assert recent_only.calls == 6 and recent_only.band("medium").seen(GROK) == 0


@pytest.mark.postgres
def test_postgres_observes_the_same_shortlist(tmp_path, request):
    sessions = [*recent(3, [MINI, KIMI, FLASH]), *recent(2, [SONNET, MINI], start=10)]
    lite = store_with(tmp_path / "a.db", sessions)
    pg = AuditionStore(request.getfixturevalue("postgres_url"))
    try:
        for result in sessions:
            assert pg.write_session(result, REGISTRY)
        for since in (None, NOW - timedelta(days=30), NOW):
            mine, theirs = (
                observe_shortlist(lite, REGISTRY, since),
                observe_shortlist(pg, REGISTRY, since),
            )
            assert mine.bands == theirs.bands
        assert observe_shortlist(pg, REGISTRY).calls == 10
    finally:
        pg.close()


def test_check_warns_where_the_router_and_the_snapshot_differ(tmp_path):
    config = make_config(audition={"url": f"sqlite:///{tmp_path / 'a.db'}"})
    # The router lists Mini, Sonnet and Kimi as the snapshot does, plus Flash (no band),
    # DeepSeek Flash (the snapshot's low band) and an unknown model; never Grok.
    store_with(tmp_path / "a.db", recent(3, [MINI, SONNET, KIMI, FLASH, DS_FLASH, NEW]))
    observed, notes = observe_store(config, REGISTRY, since=NOW - timedelta(days=30))
    assert observed is not None and observed.calls == 6 >= MIN_CALLS_FOR_ABSENCE
    assert "compared the shortlist snapshot with 6 Pareto calls" in notes[0]
    result = run_check(config, REGISTRY, observed, notes)
    messages = [f.message for f in result.findings]
    assert all(f.level == "warning" for f in result.findings)
    drift = [m for m in messages if m.startswith("shortlist ")]
    assert len(drift) == 4, drift
    assert any(f"the router now lists {FLASH} (on 6 of 6 observed calls), which the snapshot lacks;" in m for m in drift)  # fmt: skip
    assert any(DS_FLASH in m and "the snapshot has it in the low band" in m for m in drift)
    assert any(NEW in m and "the registry does not know it" in m for m in drift)
    gone = f"shortlist medium band: the snapshot lists {GROK}, which the router has not listed"
    assert any(m.startswith(f"{gone} in 6 observed calls") for m in drift)
    assert all("registry sync --from-store" in m for m in drift)
    assert result.observed == observed and result.notes == notes


def test_too_few_calls_say_nothing_about_missing_models(tmp_path):
    config = make_config(audition={"url": f"sqlite:///{tmp_path / 'a.db'}"})
    store_with(tmp_path / "a.db", recent(2, [MINI, FLASH]))  # 4 calls < 5
    result = run_check(config, REGISTRY, *observe_store(config, REGISTRY))
    drift = [f.message for f in result.findings if f.message.startswith("shortlist ")]
    assert len(drift) == 1 and FLASH in drift[0]  # a listed model is evidence at once


def test_the_same_shortlist_gives_no_warning(tmp_path):
    config = make_config(audition={"url": f"sqlite:///{tmp_path / 'a.db'}"})
    store_with(tmp_path / "a.db", recent(3, [MINI, SONNET, KIMI, GROK]))
    result = run_check(config, REGISTRY, *observe_store(config, REGISTRY))
    assert result.findings == [] and result.observed.calls == 6


def test_missing_empty_and_broken_stores_are_notes_not_failures(tmp_path):
    missing = tmp_path / "none" / "audition.db"
    config = make_config(audition={"url": f"sqlite:///{missing}"})
    observed, notes = observe_store(config, REGISTRY)
    assert observed is None and "no audition store at" in notes[0]
    assert not missing.exists() and not missing.parent.exists()  # the check created nothing
    empty = tmp_path / "empty.db"
    AuditionStore(f"sqlite:///{empty}").counts()  # created, no sessions
    observed, notes = observe_store(make_config(audition={"url": f"sqlite:///{empty}"}), REGISTRY)
    assert observed is not None and observed.bands == []
    assert "holds no Pareto call with router metadata" in notes[0]
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database file at all" * 100)
    observed, notes = observe_store(make_config(audition={"url": f"sqlite:///{garbage}"}), REGISTRY)
    assert observed is None and notes[0].startswith("the observed shortlist was not compared:")
    for note in notes:
        result = run_check(make_config(), REGISTRY, None, [note])
        assert result.findings == [] and result.notes == [note]


def test_a_read_only_store_behind_version_2_observes_nothing_without_failing(tmp_path):
    """A version 1 store has no router tables; read-only, it cannot be upgraded: the check
    says it holds no router metadata instead of failing on a missing table."""
    from tests.audition_data import write_v1_store

    path = tmp_path / "old.db"
    write_v1_store(f"sqlite:///{path}", [make_session(1)])
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    observed = observe_shortlist(AuditionStore(url), REGISTRY)
    assert observed.bands == [] and observed.calls == 0
    _, notes = observe_store(make_config(audition={"url": url}), REGISTRY)
    assert "holds no Pareto call with router metadata" in notes[0]


def test_an_unreachable_postgres_is_a_note():
    """Nothing listens on port 1: the connection is refused at once (psycopg is a dev dep)."""
    config = make_config(audition={"url": "postgresql+psycopg://u:secretpw@127.0.0.1:1/x"})
    observed, notes = observe_store(config, REGISTRY)
    assert observed is None and "not compared" in notes[0] and "secretpw" not in notes[0]


@pytest.fixture
def runner(tmp_path, monkeypatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "250")
    for name in ("LLM_COUNCIL_CONFIG", "LLM_COUNCIL_MODELS_BALANCED", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("LLM_COUNCIL_AUDITION_URL", raising=False)
    return CliRunner()


def test_check_cli_with_and_without_observations(runner, tmp_path, monkeypatch):
    from llm_council.cli import app

    clean = runner.invoke(app, ["check", "--strict"])  # no store yet in the data dir
    assert clean.exit_code == 0, clean.output
    assert "note: no audition store at" in clean.stdout and "no warnings" in clean.stdout
    assert not (tmp_path / "data" / "llm-council" / "audition.db").exists()
    store_with(tmp_path / "a.db", recent(3, [MINI, SONNET, KIMI, FLASH]))
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{tmp_path / 'a.db'}")
    warned = runner.invoke(app, ["check"])
    assert warned.exit_code == 0, warned.output
    assert f"the router now lists {FLASH}" in warned.stdout
    assert "router shortlist observed in the audition store" in warned.stdout
    assert f"{MINI} 6/6" in warned.stdout
    assert runner.invoke(app, ["check", "--strict"]).exit_code == 1
    payload = json.loads(runner.invoke(app, ["check", "--json"]).stdout)
    assert payload["observed"]["bands"][0]["band"] == "medium"
    assert payload["observed"]["bands"][0]["calls"] == 6
    assert any(FLASH in f["message"] for f in payload["findings"])
    assert runner.invoke(app, ["check", "--no-store", "--strict"]).exit_code == 0
    # A window that ends before the sessions: nothing observed, nothing to warn about.
    later = runner.invoke(app, ["check", "--strict", "--since", "1h"])
    assert later.exit_code == 0 and "holds no Pareto call" in later.stdout
    bad = runner.invoke(app, ["check", "--since", "soonish"])
    assert bad.exit_code == 2 and "--since takes" in bad.stderr


def test_check_output_is_terminal_safe(runner, tmp_path, monkeypatch):
    from llm_council.cli import app

    evil = "evil/\x1b]0;pwned\x07[bold]x[/y]"
    store_with(tmp_path / "a.db", recent(3, [MINI, evil]))
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setenv("LLM_COUNCIL_MODELS_BALANCED", f"{evil}2,openrouter/pareto-code")
    out = runner.invoke(app, ["check"])
    assert out.exit_code == 0, out.output
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout
    assert "\\x1b]0;pwned\\x07[bold]x[/y]" in out.stdout  # the store's id, shown literally
    assert "\\x1b]0;pwned\\x07[bold]x[/y]2 is not in the registry" in out.stdout  # config's
    exact = json.loads(runner.invoke(app, ["check", "--json"]).stdout)
    assert evil in {m["model"] for m in exact["observed"]["bands"][0]["models"]}
