"""Config loading: lookup order, env overrides, and one clear error per bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llm_council.config import ConfigError, load_config, parse_config
from llm_council.defaults import shipped_file
from llm_council.registry import load_registry

TIERS = ("quick", "balanced", "high", "reasoning", "frontier")


def shipped() -> dict:
    return yaml.safe_load(shipped_file("unified_config.yaml").read_text())


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def error_for(tmp_path, data) -> ConfigError:
    """Load ``data`` from a file; exactly one ConfigError naming file, key path and problem."""
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    err = info.value
    assert str(err) == f"config error in {path}" + (
        f" at {err.key_path}: {err.problem}" if err.key_path else f": {err.problem}"
    )
    assert err.source == str(path)
    return err


# --- shape of a valid file ------------------------------------------------------------


def test_shipped_default_loads_with_mixed_pool_entries(tmp_path):
    raw = shipped()
    raw["tiers"]["pools"]["high"]["models"].append(
        {"model": "openrouter/pareto-code:nitro", "min_coding_score": 0.7}
    )
    config = load_config(write(tmp_path, raw), env={})
    entries = config.pool("high").models
    assert entries[0].model == "anthropic/claude-opus-4.7" and entries[0].min_coding_score is None
    assert entries[-1].model == "openrouter/pareto-code:nitro"
    assert entries[-1].min_coding_score == 0.7
    assert config.tier_score("frontier") is None and config.tier_score("quick") == 0.2
    assert config.session_timeout_s("quick") == 30 and config.session_timeout_s("frontier") == 600


def test_shipped_tier_scores_are_the_documented_mapping():
    config = load_config(shipped_file("unified_config.yaml"), env={})
    assert {t: config.tier_score(t) for t in TIERS} == {
        "quick": 0.2,
        "balanced": 0.5,
        "high": 0.8,
        "reasoning": 0.9,
        "frontier": None,
    }


def test_partial_tier_scores_keep_the_other_defaults():
    # Setting one tier must not turn the others into "plugin omitted".
    raw = shipped()
    raw["pareto"]["tier_scores"] = {"balanced": 0.6, "frontier": 0.95}
    config = parse_config(raw)
    assert config.tier_score("balanced") == 0.6 and config.tier_score("frontier") == 0.95
    assert config.tier_score("quick") == 0.2 and config.tier_score("reasoning") == 0.9


def test_unknown_tier_in_a_lookup_names_the_tiers():
    config = load_config(shipped_file("unified_config.yaml"), env={})
    with pytest.raises(ValueError, match="unknown tier 'huge'; tiers are quick, balanced"):
        config.pool("huge")


# --- one clear error per problem -------------------------------------------------------


def test_unknown_tier_under_pools(tmp_path):
    raw = shipped()
    raw["tiers"]["pools"]["huge"] = {"models": ["openai/gpt-5.4"]}
    err = error_for(tmp_path, raw)
    assert err.key_path == "tiers.pools.huge"
    assert (
        err.problem == "unknown tier 'huge'; tiers are quick, balanced, high, reasoning, frontier"
    )


def test_unknown_tier_under_tier_scores(tmp_path):
    raw = shipped()
    raw["pareto"]["tier_scores"]["huge"] = 0.5
    err = error_for(tmp_path, raw)
    assert err.key_path == "pareto.tier_scores.huge" and "unknown tier 'huge'" in err.problem


@pytest.mark.parametrize("score", [1.5, -0.1])
def test_pool_score_out_of_range(tmp_path, score):
    raw = shipped()
    raw["tiers"]["pools"]["balanced"]["models"][1] = {
        "model": "openrouter/pareto-code",
        "min_coding_score": score,
    }
    err = error_for(tmp_path, raw)
    assert err.key_path == "tiers.pools.balanced.models[1].min_coding_score"
    assert err.problem == f"min_coding_score must be between 0 and 1 (got {score:g})"


@pytest.mark.parametrize("score", [2, -1])
def test_tier_score_out_of_range(tmp_path, score):
    raw = shipped()
    raw["pareto"]["tier_scores"]["high"] = score
    err = error_for(tmp_path, raw)
    assert err.key_path == "pareto.tier_scores.high"
    assert "between 0 and 1" in err.problem and f"got {score}" in err.problem


@pytest.mark.parametrize(
    ("where", "value", "problem"),
    [
        ("pool", "high", "must be a number (got 'high')"),
        ("pool", True, "must be a number between 0 and 1 (got True)"),
        ("tier", "0.5x", "must be a number (got '0.5x')"),
        ("tier", True, "must be a number between 0 and 1 (got True)"),
    ],
)
def test_score_not_a_number(tmp_path, where, value, problem):
    raw = shipped()
    if where == "pool":
        raw["tiers"]["pools"]["quick"]["models"][0] = {
            "model": "openrouter/pareto-code",
            "min_coding_score": value,
        }
        key_path = "tiers.pools.quick.models[0].min_coding_score"
    else:
        raw["pareto"]["tier_scores"]["quick"] = value
        key_path = "pareto.tier_scores.quick"
    err = error_for(tmp_path, raw)
    assert err.key_path == key_path and err.problem == problem


def test_empty_pool(tmp_path):
    raw = shipped()
    raw["tiers"]["pools"]["reasoning"]["models"] = []
    err = error_for(tmp_path, raw)
    assert err.key_path == "tiers.pools.reasoning.models"
    assert err.problem == "empty pool: list at least one model"


def test_missing_pool(tmp_path):
    raw = shipped()
    del raw["tiers"]["pools"]["quick"]
    err = error_for(tmp_path, raw)
    assert err.key_path == "tiers.pools" and err.problem == "missing pool for tier(s): quick"


def test_unknown_top_level_key(tmp_path):
    raw = shipped()
    raw["councl"] = {}
    err = error_for(tmp_path, raw)
    assert err.key_path == "councl"
    assert err.problem == (
        "unknown key; did you mean 'council'? allowed keys: council, tiers, pareto, gateway, "
        "audition"
    )


@pytest.mark.parametrize(
    ("mutate", "key_path", "problem"),
    [
        (
            lambda r: r["council"].update(chairmen="x"),
            "council.chairmen",
            "unknown key; did you mean 'chairman'?",
        ),
        (
            lambda r: r["tiers"]["pools"]["quick"]["models"].__setitem__(0, {"model": "a", "s": 1}),
            "tiers.pools.quick.models[0].s",
            "unknown key; allowed keys: model, min_coding_score",
        ),
        (
            lambda r: r["tiers"]["pools"]["quick"]["models"].__setitem__(0, 5),
            "tiers.pools.quick.models[0]",
            "a pool entry is a model id or {model: ID, min_coding_score: S} (got 5)",
        ),
        (
            lambda r: r["tiers"]["pools"]["quick"]["models"].__setitem__(0, ""),
            "tiers.pools.quick.models[0].model",
            "must not be empty",
        ),
        (
            lambda r: r["tiers"]["pools"]["quick"].update(models="a/b"),
            "tiers.pools.quick.models",
            "must be a list (got str 'a/b')",
        ),
        (lambda r: r.update(gateway=None), "gateway", "must be a mapping (got nothing)"),
        (lambda r: r["council"].pop("chairman"), "council.chairman", "required key is missing"),
        (lambda r: r.update(source="x"), "source", "unknown key; allowed keys: council"),
    ],
)
def test_other_shape_errors_name_the_key(tmp_path, mutate, key_path, problem):
    raw = shipped()
    mutate(raw)
    err = error_for(tmp_path, raw)
    assert err.key_path == key_path and err.problem.startswith(problem)


def test_yaml_syntax_error_names_the_line(tmp_path):
    err = error_for(tmp_path, "council:\n  chairman: x\ntiers:\n  pools: {quick: [a, b}\n")
    assert err.key_path == ""
    assert err.problem.startswith("YAML syntax error: line 4, column 23: expected ',' or ']'")


def test_empty_file(tmp_path):
    err = error_for(tmp_path, "")
    assert err.problem == "the top level must be a mapping (got an empty file)"


def test_missing_file_from_flag_and_env(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(missing, env={})
    assert str(info.value) == f"config error in {missing}: file not found (from --config)"
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"LLM_COUNCIL_CONFIG": str(missing)})
    assert str(info.value) == f"config error in {missing}: file not found (from LLM_COUNCIL_CONFIG)"


# --- lookup order and environment -------------------------------------------------------


def test_lookup_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(None, env={}).source == str(shipped_file("unified_config.yaml"))
    raw = shipped()
    raw["council"]["chairman"] = "local/chair"
    (tmp_path / "unified_config.yaml").write_text(yaml.safe_dump(raw))
    assert load_config(None, env={}).council.chairman == "local/chair"
    raw["council"]["chairman"] = "env/chair"
    env_file = tmp_path / "env.yaml"
    env_file.write_text(yaml.safe_dump(raw))
    env = {"LLM_COUNCIL_CONFIG": str(env_file)}
    assert load_config(None, env=env).council.chairman == "env/chair"
    raw["council"]["chairman"] = "flag/chair"
    flag_file = tmp_path / "flag.yaml"
    flag_file.write_text(yaml.safe_dump(raw))
    chosen = load_config(flag_file, env=env)
    assert chosen.council.chairman == "flag/chair" and chosen.source == str(flag_file)


def test_process_environment_is_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLM_COUNCIL_CHAIRMAN", "x-ai/grok-4.3")
    assert load_config().council.chairman == "x-ai/grok-4.3"


@pytest.mark.parametrize("tier", TIERS)
def test_env_pool_override_for_every_tier(tier):
    env = {f"LLM_COUNCIL_MODELS_{tier.upper()}": " openai/gpt-5.4 , openrouter/pareto-code ,"}
    config = load_config(shipped_file("unified_config.yaml"), env=env)
    assert [e.model for e in config.pool(tier).models] == [
        "openai/gpt-5.4",
        "openrouter/pareto-code",
    ]
    # The pool's other settings survive, and the other tiers are untouched.
    assert config.pool(tier).session_timeout_s is not None
    default = load_config(shipped_file("unified_config.yaml"), env={})
    for other in TIERS:
        if other != tier:
            assert config.pool(other) == default.pool(other)


def test_env_overrides_do_not_touch_the_callers_data(tmp_path):
    raw = shipped()
    path = write(tmp_path, raw)
    load_config(path, env={"LLM_COUNCIL_MODELS_QUICK": "a/b"})
    assert yaml.safe_load(path.read_text()) == raw


def test_env_chairman():
    config = load_config(
        shipped_file("unified_config.yaml"), env={"LLM_COUNCIL_CHAIRMAN": "x-ai/grok-4.3"}
    )
    assert config.council.chairman == "x-ai/grok-4.3"


def test_env_unknown_tier_and_empty_list():
    with pytest.raises(ConfigError) as info:
        load_config(shipped_file("unified_config.yaml"), env={"LLM_COUNCIL_MODELS_HUGE": "a/b"})
    err = info.value
    assert err.source == "environment variable LLM_COUNCIL_MODELS_HUGE"
    assert err.key_path == "tiers.pools.huge"
    assert err.problem.startswith("unknown tier 'huge'; use one of LLM_COUNCIL_MODELS_QUICK")
    with pytest.raises(ConfigError, match="empty model list"):
        load_config(shipped_file("unified_config.yaml"), env={"LLM_COUNCIL_MODELS_QUICK": " , "})


def test_every_default_pool_model_is_in_the_registry():
    config = load_config(shipped_file("unified_config.yaml"), env={})
    registry = load_registry()
    models = {e.model for t in TIERS for e in config.pool(t).models}
    assert registry.unknown(models | {config.council.chairman}) == []


def test_config_hash_is_stable_and_sensitive():
    a = load_config(shipped_file("unified_config.yaml"), env={})
    b = load_config(shipped_file("unified_config.yaml"), env={})
    c = load_config(shipped_file("unified_config.yaml"), env={"LLM_COUNCIL_CHAIRMAN": "x/y"})
    assert a.config_hash() == b.config_hash() != c.config_hash()
