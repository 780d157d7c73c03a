"""A clone is self-contained: every link and file reference of the docs resolves inside it, or is a
public address; nothing points at a folder beside the checkout."""

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files", *patterns], capture_output=True, text=True)
    if out.returncode:
        pytest.skip("not a git checkout")
    return [ROOT / p for p in out.stdout.split()]


def text_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        return "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
    return path.read_text(errors="replace")


def test_no_file_points_outside_the_clone():
    outside = re.compile(r"\.\./shared|shared/paper|sdas-paper\.md|(?<![\w/])NOTES\.md")
    hits = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in tracked("*.py", "*.md", "*.ipynb", "*.toml", "*.yml", "Makefile")
            if p != Path(__file__).resolve() for m in outside.finditer(text_of(p))]
    assert not hits, hits


def test_every_markdown_link_resolves():
    link = re.compile(r"\[[^\]\n]*\]\(([^)\s]*[./][^)\s]*)\)")  # [text](a path or an address)
    broken = []
    for p in tracked("*.md", "*.ipynb"):
        for target in link.findall(text_of(p)):
            if re.match(r"(https?|mailto):", target) or target.startswith("#"):
                continue
            if not (p.parent / target.split("#")[0]).exists():
                broken.append(f"{p.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_every_figure_the_docs_name_is_committed():
    """`figures/NAME.csv|png|svg` in the README and the course guides is a committed file."""
    named = re.compile(r"\bfigures/([\w.-]+\.(?:csv|png|svg|json))")
    committed = {p.name for p in tracked("figures")}
    missing = sorted({f"{p.relative_to(ROOT)}: figures/{n}" for p in tracked("README.md", "notebooks/README.md", "data/README.md", "docs/*.md")
                      for n in named.findall(text_of(p)) if n not in committed})
    assert not missing, missing
