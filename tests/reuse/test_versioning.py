"""Versioning: one version number, a changelog entry for it, and the default stack's
resource addresses pinned (a changed address destroys and re-creates infrastructure)."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from healstack import __version__
from healstack.cli import main
from tests.conftest import REPO

ADDRESSES = Path(__file__).with_name("addresses-default.txt")
UPDATE = "HEALSTACK_UPDATE_ADDRESSES"


def addresses(stack: dict[str, Any]) -> list[str]:
    """Every Terraform address of a synthesized stack, sorted."""
    found = [f"{kind}.{name}" for kind, named in stack["resource"].items() for name in named]
    found += [
        f"data.{kind}.{name}" for kind, named in stack.get("data", {}).items() for name in named
    ]
    return sorted(found)


def test_the_version_lives_in_one_place() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "healstack.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_the_changelog_describes_this_version(capsys: pytest.CaptureFixture[str]) -> None:
    changelog = (REPO / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[?(\d+\.\d+\.\d+|Unreleased)\]?", changelog, re.MULTILINE)
    released = [h for h in headings if h != "Unreleased"]
    assert released and released[0] == __version__, "add a CHANGELOG.md entry for the version"
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"healstack {__version__}"


def test_the_default_stacks_resource_addresses_are_unchanged(
    default_stack: dict[str, Any],
) -> None:
    now = addresses(default_stack)
    if os.environ.get(UPDATE) == "1":
        ADDRESSES.write_text(
            "# Terraform addresses of the default stack (healstack synth, no options).\n"
            f"# Regenerate: {UPDATE}=1 .venv/bin/python -m pytest {ADDRESSES.parent.relative_to(REPO)}"
            "/test_versioning.py (after a CHANGELOG BREAKING entry)\n" + "\n".join(now) + "\n"
        )
    pinned = [
        line for line in ADDRESSES.read_text().splitlines() if line and not line.startswith("#")
    ]
    gone = sorted(set(pinned) - set(now))
    new = sorted(set(now) - set(pinned))
    regenerate = f"{UPDATE}=1 .venv/bin/python -m pytest tests/reuse/test_versioning.py"
    assert not gone, (
        f"The default stack lost {len(gone)} resource address(es): {gone[:10]}\n"
        "Every user's next terraform plan destroys them (and re-creates any that were only "
        "renamed). If that is not intended, keep the construct ids as they were. If it is: "
        "(1) add a '### BREAKING' entry under '## Unreleased' in CHANGELOG.md naming the "
        "addresses and how users move their state (a `moved` block, `terraform state mv`, "
        "or cdktf's move_to/move_from_id), (2) regenerate the list: "
        f"{regenerate}, (3) release it as a breaking version (docs/development.md, Versioning)."
    )
    assert not new, (
        f"The default stack has {len(new)} new resource address(es): {new[:10]}\n"
        "New resources are not breaking: describe them in CHANGELOG.md under '## Unreleased' "
        f"and regenerate the list: {regenerate}"
    )
