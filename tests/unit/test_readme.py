"""The README is the operator's reference: its configuration table is the one rendered from
the settings definitions, and every variable has exactly one definition."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

from upload_stream_cli import settings_table

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
OPERATING = (ROOT / "docs" / "contract" / "operating-interface.md").read_text()

# Imports every module of the packages, in a fresh interpreter patched first as the CLI is
# (two modules monkey-patch on import), and lists every BaseSettings subclass found there.
# producer_lib's Django views import only in a configured Django, as in any app that uses them.
_DISCOVER = """
from gevent import monkey
monkey.patch_all()
import importlib, json, pkgutil
from pydantic_settings import BaseSettings
from upload_stream_cli import settings_table
roots = ("schemas", "upload_engine", "kafka_config", "consumer", "producer_lib",
         "upload_stream_cli", "bench")
for root in roots:
    package = importlib.import_module(root)
    for info in pkgutil.walk_packages(package.__path__, root + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
found, seen, todo = [], set(), list(BaseSettings.__subclasses__())
while todo:
    cls = todo.pop()
    todo.extend(cls.__subclasses__())
    if cls not in seen and cls.__module__.split(".")[0] in roots:
        seen.add(cls)
        found.append({
            "name": f"{cls.__module__}.{cls.__qualname__}",
            "in_table": cls in settings_table.GROUPS,
            "variables": [settings_table.variable(cls, f) for f in settings_table.own_fields(cls)],
        })
print(json.dumps(found))
"""


@cache
def _settings_classes() -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-c", _DISCOVER],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.django_project.settings"},
    )
    found: list[dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_the_readme_table_is_the_rendered_one() -> None:
    assert settings_table.current(README) == settings_table.render(), (
        "the README's configuration table is out of date: run `make settings-table`"
    )


def test_every_settings_class_declaring_a_variable_is_in_the_table() -> None:
    found = _settings_classes()
    assert {c["name"] for c in found if c["variables"] and not c["in_table"]} == set()
    # The discovery sees the groups, the readers' classes and their combinations.
    names = {c["name"] for c in found}
    assert {"kafka_config.topics.Topics", "consumer.settings.ConsumerSettings"} <= names


def test_no_variable_is_defined_by_two_settings_classes() -> None:
    defined = Counter(v for c in _settings_classes() for v in c["variables"])  # type: ignore[attr-defined]
    assert [name for name, count in defined.items() if count > 1] == []
    # Inherited fields are not definitions: the consumer reads the topics, declares none.
    assert defined["UPLOAD_STREAM_REQUESTS_TOPIC"] == 1
    assert "requests_topic" in settings_table.ConsumerSettings.model_fields


def test_a_redefined_variable_would_be_caught() -> None:
    class Again(settings_table.RequestsTopic):
        requests_topic: str = "elsewhere"

    assert settings_table.own_fields(Again) == ["requests_topic"]


def test_readme_shows_the_two_main_commands() -> None:
    assert "make demo" in README
    assert "make test" in README


def test_the_operating_contracts_variables_exist_with_its_defaults() -> None:
    ours = {name: default for name, default, _, _ in settings_table.rows()}
    named = re.findall(r"^\| `([A-Z0-9_]+)` \| ([^|]+) \|", OPERATING, flags=re.M)
    assert len(named) >= 15
    for name, default in named:
        assert name in ours, name
        if default.strip().startswith("`"):  # a literal default, not prose like "none: required"
            assert f"`{ours[name]}`" == default.strip(), name


def test_every_variable_has_a_description() -> None:
    assert [name for name, _, _, about in settings_table.rows() if not about.strip()] == []


def test_every_upload_stream_variable_named_anywhere_is_defined() -> None:
    # A variable read with os.environ, or a typo in the docs, would name one no settings
    # group defines: the table would miss it and its validation would live elsewhere.
    defined = {name for name, _, _, _ in settings_table.rows()}
    sources = [ROOT / "README.md", ROOT / "Dockerfile", ROOT / "docker-compose.yml"]
    sources += sorted((ROOT / "docs").rglob("*.md"))
    for package in ("schemas", "upload_engine", "kafka_config", "consumer", "producer_lib"):
        sources += sorted((ROOT / package).rglob("*.py"))
    sources += sorted((ROOT / "upload_stream_cli").rglob("*.py"))
    sources += sorted((ROOT / "bench").rglob("*.py"))
    sources += [p for p in sorted((ROOT / "deploy").rglob("*")) if p.suffix in {".yaml", ".yml"}]
    named = {
        (match, path.relative_to(ROOT).as_posix())
        for path in sources
        if path.exists()
        for match in re.findall(r"\bUPLOAD_STREAM_[A-Z0-9_]*[A-Z0-9]\b", path.read_text())
    }
    assert len(named) > 50
    assert sorted((name, where) for name, where in named if name not in defined) == []
