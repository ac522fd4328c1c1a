"""A non-editable install carries and finds the shipped config and registry.

Builds the wheel once for the module (about a second: no build isolation, no dependencies,
no index) and imports the package from the unpacked wheel in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULTS = ("llm_council/_defaults/unified_config.yaml", "llm_council/_defaults/registry.yaml")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )
    (built,) = out.glob("llm_council-*.whl")
    return built


def test_wheel_contains_the_shipped_defaults(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in DEFAULTS:
        assert name in names
    # The eval's bundled tasks and the isolated child script ship as package files.
    assert {"llm_council/evaluation/data/tasks.jsonl", "llm_council/evaluation/_child.py"} <= names
    # The copies are the repository's files, byte for byte.
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(DEFAULTS[0]) == (REPO / "unified_config.yaml").read_bytes()
        assert archive.read(DEFAULTS[1]) == (REPO / "models" / "registry.yaml").read_bytes()


def test_installed_package_finds_its_defaults(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "import llm_council\n"
        "from llm_council.config import load_config\n"
        "from llm_council.defaults import shipped_file\n"
        "from llm_council.registry import load_registry\n"
        "config = load_config(env={})\n"
        "registry = load_registry()\n"
        "print(json.dumps({'package': llm_council.__file__, 'config': config.source,\n"
        "    'registry': registry.source, 'chairman': config.council.chairman,\n"
        "    'models': len(registry.models)}))\n"
    )
    # An empty working directory, so no ./unified_config.yaml is picked up instead.
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    found = json.loads(done.stdout)
    defaults = site / "llm_council" / "_defaults"
    assert found["package"].startswith(str(site))
    assert found["config"] == str(defaults / "unified_config.yaml")
    assert found["registry"] == str(defaults / "registry.yaml")
    assert found["chairman"] == "anthropic/claude-opus-4.7" and found["models"] >= 13
