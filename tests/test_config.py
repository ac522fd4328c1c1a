"""Config loading: lookup order, env overrides, and one clear error per bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llm_council.config import ConfigError, load_config
from llm_council.defaults import shipped_file
from llm_council.registry import load_registry


def shipped() -> dict:
    return yaml.safe_load(shipped_file("unified_config.yaml").read_text())


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def error_for(tmp_path, data) -> ConfigError:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(path) in str(info.value)
    return info.value


def test_shipped_default_loads_with_mixed_pool_entries(tmp_path):
    raw = shipped()
    raw["tiers"]["pools"]["high"]["models"].append(
        {"model": "openrouter/pareto-code:nitro", "min_coding_score": 0.7}
    )
    config = load_config(write(tmp_path, raw), env={})
    entries = config.pool("high").models
    assert entries[0].model == "anthropic/claude-opus-4.7" and entries[0].min_coding_score is None
    assert (
        entries[-1].model == "openrouter/pareto-code:nitro" and entries[-1].min_coding_score == 0.7
    )
    assert config.tier_score("frontier") is None and config.tier_score("quick") == 0.2
    assert config.session_timeout_s("quick") == 30 and config.session_timeout_s("frontier") == 600


def test_unknown_tier(tmp_path):
    raw = shipped()
    raw["tiers"]["pools"]["huge"] = {"models": ["openai/gpt-5.4"]}
    err = error_for(tmp_path, raw)
    assert err.key_path.startswith("tiers.pools.huge")
    assert "unknown tier" in err.problem and "balanced" in err.problem


@pytest.mark.parametrize("score", [1.5, -0.1])
def test_pool_score_out_of_range(tmp_path, score):
    raw = shipped()
    raw["tiers"]["pools"]["balanced"]["models"][1] = {
        "model": "openrouter/pareto-code",
        "min_coding_score": score,
    }
    err = error_for(tmp_path, raw)
    assert err.key_path == "tiers.pools.balanced.models[1].min_coding_score"
    assert "between 0 and 1" in err.problem


def test_tier_score_out_of_range(tmp_path):
    raw = shipped()
    raw["pareto"]["tier_scores"]["high"] = 2
    err = error_for(tmp_path, raw)
    assert err.key_path == "pareto.tier_scores"
    assert "high" in err.problem and "between 0 and 1" in err.problem


def test_score_not_a_number(tmp_path):
    raw = shipped()
    raw["tiers"]["pools"]["quick"]["models"][0] = {
        "model": "openrouter/pareto-code",
        "min_coding_score": "high",
    }
    err = error_for(tmp_path, raw)
    assert err.key_path == "tiers.pools.quick.models[0].min_coding_score"
    assert "must be a number" in err.problem and "'high'" in err.problem


def test_empty_pool(tmp_path):
    raw = shipped()
    raw["tiers"]["pools"]["reasoning"]["models"] = []
    err = error_for(tmp_path, raw)
    assert err.key_path == "tiers.pools.reasoning.models"
    assert "empty pool" in err.problem


def test_unknown_top_level_key(tmp_path):
    raw = shipped()
    raw["councl"] = {}
    err = error_for(tmp_path, raw)
    assert err.key_path == "councl" and err.problem == "unknown key"


def test_yaml_syntax_error_names_the_line(tmp_path):
    err = error_for(tmp_path, "council:\n  chairman: x\ntiers: [\n  pools: {\n")
    assert "YAML syntax error" in err.problem and "line " in err.problem


def test_missing_file_from_flag_and_env(tmp_path):
    with pytest.raises(ConfigError, match=r"not found \(from --config"):
        load_config(tmp_path / "nope.yaml", env={})
    with pytest.raises(ConfigError, match="LLM_COUNCIL_CONFIG"):
        load_config(None, env={"LLM_COUNCIL_CONFIG": str(tmp_path / "nope.yaml")})


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
    assert (
        load_config(None, env={"LLM_COUNCIL_CONFIG": str(env_file)}).council.chairman == "env/chair"
    )
    raw["council"]["chairman"] = "flag/chair"
    flag_file = tmp_path / "flag.yaml"
    flag_file.write_text(yaml.safe_dump(raw))
    chosen = load_config(flag_file, env={"LLM_COUNCIL_CONFIG": str(env_file)})
    assert chosen.council.chairman == "flag/chair"


@pytest.mark.parametrize("tier", ["quick", "balanced", "high", "reasoning", "frontier"])
def test_env_pool_override_for_every_tier(tier):
    env = {f"LLM_COUNCIL_MODELS_{tier.upper()}": " openai/gpt-5.4 , openrouter/pareto-code ,"}
    config = load_config(shipped_file("unified_config.yaml"), env=env)
    assert [e.model for e in config.pool(tier).models] == [
        "openai/gpt-5.4",
        "openrouter/pareto-code",
    ]


def test_env_chairman_and_bad_tier_name():
    config = load_config(
        shipped_file("unified_config.yaml"), env={"LLM_COUNCIL_CHAIRMAN": "x-ai/grok-4.3"}
    )
    assert config.council.chairman == "x-ai/grok-4.3"
    with pytest.raises(ConfigError, match="unknown tier 'huge'"):
        load_config(shipped_file("unified_config.yaml"), env={"LLM_COUNCIL_MODELS_HUGE": "a/b"})
    with pytest.raises(ConfigError, match="empty model list"):
        load_config(shipped_file("unified_config.yaml"), env={"LLM_COUNCIL_MODELS_QUICK": " , "})


def test_every_default_pool_model_is_in_the_registry():
    config = load_config(shipped_file("unified_config.yaml"), env={})
    registry = load_registry()
    models = {
        e.model
        for t in ("quick", "balanced", "high", "reasoning", "frontier")
        for e in config.pool(t).models
    }
    assert registry.unknown(models | {config.council.chairman}) == []
    assert registry.unknown(["someone/new-model-1"]) == ["someone/new-model-1"]


def test_config_hash_is_stable_and_sensitive():
    a = load_config(shipped_file("unified_config.yaml"), env={})
    b = load_config(shipped_file("unified_config.yaml"), env={})
    c = load_config(shipped_file("unified_config.yaml"), env={"LLM_COUNCIL_CHAIRMAN": "x/y"})
    assert a.config_hash() == b.config_hash() != c.config_hash()
