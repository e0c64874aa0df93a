"""The documentation holds together: every relative link leads to a file, and shell
examples call the project's own environment (`.venv/bin/...`, as `make run` makes it), so
typed literally in a fresh shell they run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
SHELL_BLOCK = re.compile(r"```(?:bash|sh|shell)\n(.*?)```", re.S)
BARE = re.compile(r"(^|[|;&(]\s*|\$\()\s*(tidings|python3?|pip|pytest) ")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_to_files(page: Path) -> None:
    for target in LINK.findall(page.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (page.parent / target).exists(), f"{page.name}: {target} does not exist"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_examples_use_the_project_environment(page: Path) -> None:
    for block in SHELL_BLOCK.findall(page.read_text()):
        for line in block.splitlines():
            code = line.split("  #")[0]
            assert not BARE.search(code), f"{page.name}: {line.strip()!r} (use .venv/bin/...)"
