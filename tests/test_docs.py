"""Docs that cannot drift: generated references are fresh and links stay inside the repository."""

from __future__ import annotations

import re

from core.config import Settings
from dijkwacht.reference import REGENERATE, cli_doc, configuration_doc
from tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_setting_says_what_it_is_for() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert not missing, f"settings without a docstring in core/config.py: {missing}"


def test_configuration_reference_is_fresh() -> None:
    current = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert configuration_doc(current) == current, (
        f"docs/configuration.md is stale: run {REGENERATE}"
    )


def test_command_reference_is_fresh() -> None:
    current = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert cli_doc() == current, f"docs/cli.md is stale: run {REGENERATE}"


def test_the_command_reference_lists_every_command_group() -> None:
    text = cli_doc()
    for group in ("admin", "rules", "incidents", "breach", "drills", "awareness", "audit"):
        assert f"### `dijkwacht {group}`" in text


def test_links_in_readme_and_docs_stay_inside_the_repository() -> None:
    broken = []
    for page in [REPO_ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#", 1)[0]).resolve()
            if not path.is_relative_to(REPO_ROOT) or not path.exists():
                broken.append(f"{page.relative_to(REPO_ROOT)} -> {target}")
    assert not broken, f"links that leave the repository or lead nowhere: {broken}"


def test_the_architecture_page_names_every_package() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    packages = [p.name for p in REPO_ROOT.iterdir() if (p / "__init__.py").is_file()]
    for name in packages:
        if name in {"tests", "bench"}:
            continue
        assert f"{name}/" in text, f"docs/architecture.md does not mention {name}/"
