"""The documentation site stays consistent with the code (``mkdocs build --strict`` itself runs in CI)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def nav_pages() -> list[str]:
    text = (ROOT / "mkdocs.yml").read_text()
    nav = text[text.index("\nnav:"):]
    return re.findall(r":\s*([\w./-]+\.md)\s*$", nav, flags=re.M)


def test_every_nav_page_exists() -> None:
    pages = nav_pages()
    assert "index.md" in pages and "nir.md" in pages and "cli.md" in pages
    missing = [p for p in pages if not (DOCS / p).is_file()]
    assert not missing, f"mkdocs nav lists missing pages: {missing}"


def test_api_pages_name_existing_modules() -> None:
    for page in sorted((DOCS / "api").glob("*.md")):
        for mod in re.findall(r"^::: ([\w.]+)", page.read_text(), flags=re.M):
            path = ROOT / "src" / Path(*mod.split("."))
            assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), f"{page.name}: {mod}"


@pytest.mark.parametrize("page", ["footprint", "connection-sparsity", "activation-sparsity",
                                  "synaptic-operations", "membrane-updates"])
def test_each_metric_has_its_page(page: str) -> None:
    text = (DOCS / "metrics" / f"{page}.md").read_text()
    assert "## NeuroBench" in text and "## spikeforge" in text and "## Where and why they differ" in text


def test_cli_reference_covers_every_command() -> None:
    from spikeforge.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    text = (DOCS / "cli.md").read_text()
    missing = [c for c in sub.choices if f"## `spikeforge {c}" not in text]  # type: ignore[union-attr]
    assert not missing, f"docs/cli.md lacks: {missing}"
