"""The declared dependency floors are the tested ones: constraints-minimum.txt pins every
dependency of pyproject.toml (and its distributed, test, ops, report and alerts extras) at
exactly its declared lower bound, and in CI's floors run (``NEWSBOT_FLOORS=1``, .ci/run) those
are the versions installed."""

from __future__ import annotations

import os
import re
import sys
from importlib import metadata
from typing import Any

import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

from tests.crawlkit import PROJECT

EXTRAS = ("distributed", "test", "ops", "report", "alerts")


def pyproject() -> dict[str, Any]:
    return dict(tomllib.loads((PROJECT / "pyproject.toml").read_text("utf-8"))["project"])


def pyproject_requirements() -> list[Requirement]:
    project = pyproject()
    lines = list(project["dependencies"])
    for extra in EXTRAS:
        lines += project["optional-dependencies"][extra]
    return [r for r in map(Requirement, lines) if r.name != "newsbot"]


def constraints() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    text = (PROJECT / "constraints-minimum.txt").read_text("utf-8")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            m = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;]+)", line)
            assert m, f"not a pin: {line!r}"
            pins[m.group(1).lower()] = Version(m.group(2))
    return pins


def floor(requirement: Requirement) -> Version:
    (lower,) = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    return lower


def test_every_declared_dependency_is_pinned_at_its_floor() -> None:
    pins = constraints()
    requirements = pyproject_requirements()
    assert {r.name.lower() for r in requirements} == set(pins)
    for requirement in requirements:
        assert pins[requirement.name.lower()] == floor(requirement), requirement
        assert requirement.specifier.contains(pins[requirement.name.lower()]), requirement


def test_the_floors_run_runs_at_the_floors() -> None:
    """In CI's floors run, what is installed is what constraints-minimum.txt says."""
    if os.environ.get("NEWSBOT_FLOORS") != "1":
        pins = constraints()  # still read the file: a broken pin fails here too
        assert pins
        return
    installed = {name: Version(metadata.version(name)) for name in constraints()}
    assert installed == constraints()
    oldest = floor(Requirement(f"python{pyproject()['requires-python']}"))
    assert sys.version_info[:2] == oldest.release[:2], "the floors run is on the oldest Python"


def test_the_floors_run_may_leave_out_the_process_tests() -> None:
    """CI's floors run leaves out the ``process`` tests (.ci/run): what they test is newsbot's
    own code with Scrapy, Twisted, Python and the system, and the floors run has the same
    Scrapy as the main run only while the declared range holds one minor series. A wider range
    (or a lower floor) fails here: then run them in the floors run too."""
    (scrapy,) = [r for r in pyproject_requirements() if r.name.lower() == "scrapy"]
    lower = floor(scrapy)
    (upper,) = [Version(s.version) for s in scrapy.specifier if s.operator == "<"]
    assert upper == Version(f"{lower.major}.{lower.minor + 1}"), scrapy
    assert constraints()["scrapy"] == lower


def test_ci_installs_and_runs_what_the_readme_says() -> None:
    """.ci/run installs with uv (for speed), the README with pip: the main venv gets the same
    extras, and the README's test command runs verbatim."""
    readme = (PROJECT / "README.md").read_text("utf-8")
    m = re.search(
        r'^python3 -m venv \.venv .*pip install -e "([^"]+)" && (python -m pytest .*)$',
        readme,
        re.M,
    )
    assert m, "README: command 2 not found"
    extras, command = m.groups()
    ci = (PROJECT / ".ci" / "run").read_text("utf-8").replace("\\\n", " ")
    lines = [" ".join(line.split()) for line in ci.splitlines()]
    installs = [
        line for line in lines if "pip install" in line and "--python .venv/bin/python" in line
    ]
    assert len(installs) == 1, installs
    assert f'-e "{extras}"' in installs[0]
    assert command in lines
