"""The shipped model registry, family rules, clear errors for a bad file, and the sync overlay."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llm_council.config import load_config
from llm_council.defaults import shipped_file
from llm_council.pareto import band_for_score, is_pareto_model, parse_pareto_model, route
from llm_council.registry import Registry, RegistryError, derive_family, load_registry

LINEUP = {
    "high": [
        "openai/gpt-5.5",
        "google/gemini-3.1-pro-preview",
        "anthropic/claude-opus-4.7",
        "deepseek/deepseek-v4-pro",
    ],
    "medium": [
        "openai/gpt-5.4-mini",
        "anthropic/claude-sonnet-4.6",
        "moonshotai/kimi-k2.6",
        "x-ai/grok-4.3",
    ],
    "low": [
        "xiaomi/mimo-v2.5-pro",
        "qwen/qwen3.6-max-preview",
        "z-ai/glm-5.1",
        "deepseek/deepseek-v4-flash",
        "anthropic/claude-haiku-4.5",
    ],
}
TIERS = ("quick", "balanced", "high", "reasoning", "frontier")


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def shipped_raw() -> dict:
    return yaml.safe_load(shipped_file("registry.yaml").read_text())


def write(tmp_path: Path, data, name: str = "registry.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


# --- the shipped registry -----------------------------------------------------------------


def test_shipped_registry_loads(registry):
    assert registry.source == str(shipped_file("registry.yaml"))
    assert registry.data.schema_version == 1 and len(registry.models) >= 13


def test_every_shortlist_member_has_an_entry(registry):
    for band, members in registry.pareto.shortlist.items():
        for model_id in members:
            entry = registry.get(model_id)
            assert entry is not None, (band, model_id)
            assert entry.coding_score is not None and entry.throughput_tps is not None


def test_public_lineup_in_the_right_bands(registry):
    assert {b: list(m) for b, m in registry.pareto.shortlist.items()} == LINEUP
    assert sum(len(m) for m in LINEUP.values()) == 13
    for band, members in LINEUP.items():
        assert [m.id for m in registry.band_members(band)] == members


def test_meta_model_entry(registry):
    meta = registry.meta("openrouter/pareto-code")
    assert meta is not None and meta.plugin_id == "pareto-router"
    assert meta.variants == ("nitro",) and meta.coding_only is True
    assert registry.meta("openrouter/pareto-code:nitro") == meta
    assert registry.is_known("openrouter/pareto-code:nitro")
    assert registry.get("openrouter/pareto-code") is None  # not a concrete model
    assert parse_pareto_model("openrouter/pareto-code:nitro").variant == "nitro"
    assert is_pareto_model("openrouter/pareto-code") and not is_pareto_model("openai/gpt-5.5")


def test_every_shipped_pool_model_is_known(registry):
    config = load_config(shipped_file("unified_config.yaml"), env={})
    models = {e.model for t in TIERS for e in config.pool(t).models} | {config.council.chairman}
    assert registry.unknown(models) == []


def test_an_unknown_pool_model_is_reported_not_fatal(registry):
    config = load_config(
        shipped_file("unified_config.yaml"),
        env={"LLM_COUNCIL_MODELS_BALANCED": "someone/new-model-1,openai/gpt-5.4"},
    )
    models = [e.model for e in config.pool("balanced").models]
    assert registry.unknown(models) == ["someone/new-model-1"]
    assert registry.provider_of("someone/new-model-1") == "someone"
    assert registry.estimate_cost("someone/new-model-1", 10, 10) is None


def test_prices_and_costs(registry):
    entry = registry.get("openai/gpt-5.4-mini")
    assert entry.cost_usd(1_000_000, 1_000_000) == pytest.approx(0.25 + 2.0)
    assert registry.estimate_cost("openai/gpt-5.4-mini:nitro", 1000, 0) == pytest.approx(0.00025)


# --- families -----------------------------------------------------------------------------


def test_family_from_the_registry(registry):
    assert registry.family_of("anthropic/claude-opus-4.6") == "anthropic/claude-opus"
    assert registry.family_of("anthropic/claude-opus-4.6") == registry.family_of(
        "anthropic/claude-opus-4.7"
    )
    assert registry.family_of("anthropic/claude-opus-4.7") != registry.family_of(
        "anthropic/claude-sonnet-4.6"
    )
    assert registry.family_of("openai/gpt-5.5:nitro") == "openai/gpt"


@pytest.mark.parametrize(
    ("model_id", "family"),
    [
        ("anthropic/claude-opus-4.5", "anthropic/claude-opus"),
        ("anthropic/claude-opus-5-preview:nitro", "anthropic/claude-opus"),
        ("anthropic/claude-3-5-sonnet-20241022", "anthropic/claude-sonnet"),
        ("deepseek/deepseek-v5-pro", "deepseek/deepseek-pro"),
        ("google/gemini-3.5-pro-preview", "google/gemini-pro"),
        ("qwen/qwen3.7-max", "qwen/qwen-max"),
        ("moonshotai/kimi-k3", "moonshotai/kimi"),
        ("openai/o3", "openai/o3"),
        ("openai/o4-mini", "openai/o4-mini"),
        ("meta-llama/llama-3.1-70b-instruct", "meta-llama/llama-70b-instruct"),
    ],
)
def test_family_of_unknown_ids_strips_versions(registry, model_id, family):
    assert not registry.is_known(model_id)
    assert registry.family_of(model_id) == family


def test_derived_family_agrees_with_the_curated_ones(registry):
    # The rule for unknown ids reproduces every curated family, so a new release of a
    # listed model lands in the same family as its predecessor.
    for entry in registry.models:
        assert derive_family(entry.id) == entry.family, entry.id


# --- Pareto rules over the registry -------------------------------------------------------


def test_bands_and_routes(registry):
    assert band_for_score(registry, None) == "high"
    assert [band_for_score(registry, s) for s in (0.2, 0.5, 0.8, 0.9)] == [
        "low",
        "medium",
        "high",
        "high",
    ]
    cheapest = route(registry, 0.5)
    assert cheapest.band == "medium" and cheapest.primary == "openai/gpt-5.4-mini"
    assert len(cheapest.candidates) == 3
    assert route(registry, 0.5, "nitro").primary == "x-ai/grok-4.3"  # fastest in band
    down = route(registry, 0.9, available=lambda m: m not in LINEUP["high"])
    assert down.crossed_band and down.band == "medium"


# --- a bad registry file ------------------------------------------------------------------


def registry_error(tmp_path, data) -> str:
    path = write(tmp_path, data)
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    message = str(info.value)
    assert message.startswith(f"registry error in {path}")
    return message


def test_bad_field_names_file_key_and_model(tmp_path):
    raw = shipped_raw()
    raw["models"][2]["context_length"] = -5
    message = registry_error(tmp_path, raw)
    assert " at models[2].context_length (model 'anthropic/claude-opus-4.7'): " in message
    assert "greater than 0" in message


def test_missing_and_unknown_keys(tmp_path):
    raw = shipped_raw()
    del raw["models"][0]["family"]
    assert "at models[0].family (model 'openai/gpt-5.5'): required key is missing" in (
        registry_error(tmp_path, raw)
    )
    raw = shipped_raw()
    raw["pareto"]["shortlst"] = {}
    assert registry_error(tmp_path, raw).endswith("at pareto.shortlst: unknown key")


def test_shortlist_member_without_entry(tmp_path):
    raw = shipped_raw()
    raw["pareto"]["shortlist"]["medium"].append("acme/ghost-1")
    message = registry_error(tmp_path, raw)
    assert "at pareto.shortlist.medium[4]: 'acme/ghost-1' has no entry under models" in message


def test_duplicates_are_errors(tmp_path):
    raw = shipped_raw()
    raw["models"].append(dict(raw["models"][0]))
    assert f"at models[{len(raw['models']) - 1}].id: 'openai/gpt-5.5' is listed twice" in (
        registry_error(tmp_path, raw)
    )
    raw = shipped_raw()
    raw["pareto"]["shortlist"]["low"].append("openai/gpt-5.5")
    assert "'openai/gpt-5.5' is already in band high" in registry_error(tmp_path, raw)


def test_thresholds_out_of_order(tmp_path):
    raw = shipped_raw()
    raw["pareto"]["thresholds"] = {"high": 0.3, "medium": 0.6}
    assert "at pareto.thresholds: medium (0.6) must not exceed high (0.3)" in (
        registry_error(tmp_path, raw)
    )


def test_yaml_and_shape_errors(tmp_path):
    assert "YAML syntax error: line 2" in registry_error(
        tmp_path, "schema_version: 1\nmodels: [a, b}\n"
    )
    assert registry_error(tmp_path, "- 1\n").endswith(": the top level must be a mapping")
    with pytest.raises(RegistryError, match="cannot read file"):
        load_registry(tmp_path / "missing.yaml")


# --- the sync overlay ---------------------------------------------------------------------


def test_overlay_is_applied(tmp_path):
    overlay = write(
        tmp_path,
        {
            "models": {
                "openai/gpt-5.4-mini": {"prompt_per_mtok": 0.2, "context_length": 500000},
                "anthropic/claude-sonnet-4.6": {"family": "ignored", "coding_score": 0.1},
                "acme/not-tracked": {"prompt_per_mtok": 1.0},
            }
        },
        "overlay.yaml",
    )
    refreshed = load_registry(overlay=overlay)
    mini = refreshed.get("openai/gpt-5.4-mini")
    assert mini.prompt_per_mtok == 0.2 and mini.context_length == 500000
    assert mini.completion_per_mtok == 2.0  # untouched fields survive
    sonnet = refreshed.get("anthropic/claude-sonnet-4.6")
    assert sonnet.family == "anthropic/claude-sonnet" and sonnet.coding_score == 0.86
    assert not refreshed.is_known("acme/not-tracked")
    # The shipped file itself is unchanged.
    assert load_registry().get("openai/gpt-5.4-mini").prompt_per_mtok == 0.25


def test_missing_overlay_is_fine(tmp_path):
    registry = load_registry(overlay=tmp_path / "none.yaml")
    assert registry.get("openai/gpt-5.4-mini").prompt_per_mtok == 0.25


def test_overlay_prices_change_the_route(tmp_path):
    overlay = write(
        tmp_path,
        {
            "models": {
                "anthropic/claude-sonnet-4.6": {"prompt_per_mtok": 0.1, "completion_per_mtok": 0.2}
            }
        },
        "overlay.yaml",
    )
    assert route(load_registry(overlay=overlay), 0.5).primary == "anthropic/claude-sonnet-4.6"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            {"models": {"openai/gpt-5.4-mini": {"prompt_per_mtok": -1}}},
            "at models.openai/gpt-5.4-mini.prompt_per_mtok: Input should be greater than",
        ),
        ({"models": ["openai/gpt-5.4-mini"]}, "at models: must be a mapping"),
        ({"models": {"openai/gpt-5.4-mini": 3}}, "at models.openai/gpt-5.4-mini: must be"),
        ("models:\n  a: [1, 2}\n", "YAML syntax error: line 2"),
    ],
)
def test_bad_overlay_names_file_and_key(tmp_path, data, problem):
    overlay = write(tmp_path, data, "overlay.yaml")
    with pytest.raises(RegistryError) as info:
        load_registry(overlay=overlay)
    assert str(info.value).startswith(f"registry overlay error in {overlay}")
    assert problem in str(info.value)
