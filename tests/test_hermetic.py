"""The suite is hermetic: user directories point into a per-test temporary home."""

from __future__ import annotations

import os
from pathlib import Path

from llm_council.paths import default_overlay_path, user_data_dir


def test_user_dirs_are_private_to_the_test(tmp_path_factory):
    root = Path(tmp_path_factory.getbasetemp())
    assert root in user_data_dir().parents
    assert root in default_overlay_path().parents
    assert "OPENROUTER_API_KEY" not in os.environ
    assert "LLM_COUNCIL_AUDITION_URL" not in os.environ
