"""References from the code to the documentation point at something that exists: no
``docs/*.md`` file the repository does not have, and every ``README.md, <Section>`` names a
heading of README.md."""

from __future__ import annotations

import re
import subprocess

from tests.crawlkit import PROJECT

DOC_PATH = re.compile(r"\bdocs/[\w./-]+\.md\b")
README_SECTION = re.compile(r"README\.md, ([A-Z][a-z]+(?: [a-z]+)*)")


def tracked_text_files() -> list[str]:
    names = subprocess.run(
        ["git", "ls-files", "*.py", "*.toml", "*.cfg", "*.sh", "*.md"],
        cwd=PROJECT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return [n for n in names if (PROJECT / n).is_file()]


def test_no_reference_to_missing_docs() -> None:
    files = tracked_text_files()
    assert "newsbot/settings.py" in files and "pyproject.toml" in files
    missing = {
        (name, ref)
        for name in files
        for ref in DOC_PATH.findall((PROJECT / name).read_text("utf-8", "replace"))
        if not (PROJECT / ref).exists()
    }
    assert not missing, sorted(missing)


def test_readme_sections_named_in_the_code_exist() -> None:
    headings = {
        line.lstrip("#").strip().lower()
        for line in (PROJECT / "README.md").read_text("utf-8").splitlines()
        if line.startswith("#")
    }
    named = {
        (name, section)
        for name in tracked_text_files()
        for section in README_SECTION.findall((PROJECT / name).read_text("utf-8", "replace"))
    }
    assert len(named) >= 5, named
    unknown = {(name, s) for name, s in named if s.lower() not in headings}
    assert not unknown, sorted(unknown)
