"""CDK Terrain: healstack on cdktn 0.24 synthesizes what it synthesizes on cdktf 0.21.

The cdktn run is a venv of its own, ``.venv-cdktn`` (``./dev test`` sets it up from
``requirements/cdktn.txt``: cdktn and healstack's other runtime dependencies, no cdktf), with
healstack from this work tree on ``PYTHONPATH`` and ``HEALSTACK_CDK`` unset, so
``healstack.cdk`` must pick cdktn because cdktf is not there. Every shipped playbook's stack
is compared with the cdktf synthesis (the ``synthesized`` fixture): the same resources,
arguments, outputs, provider and backend, the same asset files byte for byte; the only
difference is the core's version in the documents' ``"//"`` metadata and in ``manifest.json``
(cdktn keeps cdktf's names for everything else, ``cdktf.out`` and the logical ids included).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from healstack.errors import UsageError
from tests.conftest import REPO, all_playbook_args

#: set by ./dev test (ensure_cdktn): the cdktn venv's python
PYTHON_ENV = "HEALSTACK_CDKTN_PYTHON"
CDKTF_VERSION = "0.21.0"
CDKTN_VERSION = "0.24.0"


def cdktn_python() -> str:
    path = os.environ.get(PYTHON_ENV) or str(REPO / ".venv-cdktn" / "bin" / "python")
    if not Path(path).is_file():
        pytest.fail(
            f"the cdktn venv is missing ({path}): run ./dev test "
            "(it sets up .venv-cdktn from requirements/cdktn.txt)"
        )
    return path


def run_cdktn(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in the cdktn venv with healstack from this work tree, the caller's
    environment less ``HEALSTACK_CDK`` and Python's own variables, plus ``env``."""
    base = {
        k: v for k, v in os.environ.items() if k != "HEALSTACK_CDK" and not k.startswith("PYTHON")
    }
    base["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "lambda_src")])
    base["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    return subprocess.run(
        [cdktn_python(), *args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def cdktn_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cdktf.out for every shipped playbook, synthesized by ``python main.py`` under cdktn."""
    work = tmp_path_factory.mktemp("cdktn")
    out = work / "cdktf.out"
    result = run_cdktn(str(REPO / "main.py"), "--out", str(out), *all_playbook_args(), cwd=work)
    assert result.returncode == 0, result.stderr
    return out


def without_core_version(doc: dict[str, Any], metadata: str, version: str) -> dict[str, Any]:
    """``doc`` less its core version (at ``doc[metadata]["version"]`` or ``doc["version"]``),
    which must be ``version``."""
    doc = json.loads(json.dumps(doc))
    holder = doc[metadata]["metadata"] if metadata else doc
    assert holder.pop("version") == version
    return doc


def test_the_cdktn_venv_has_cdktn_and_no_cdktf() -> None:
    code = (
        "import importlib.util, json; from importlib.metadata import version; "
        "from healstack.cdk import CORE, App; "
        "print(json.dumps([CORE, App.__module__.split('.')[0], version('cdktn'), "
        "importlib.util.find_spec('cdktf') is None]))"
    )
    result = run_cdktn("-c", code, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["cdktn", "cdktn", CDKTN_VERSION, True]


def test_cdktn_synthesizes_the_same_stacks_as_cdktf(synthesized: Path, cdktn_out: Path) -> None:
    files = sorted(p.relative_to(synthesized) for p in synthesized.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(cdktn_out) for p in cdktn_out.rglob("*") if p.is_file())
    stacks = sorted(p.name for p in (synthesized / "stacks").iterdir())
    assert stacks and "ec2-status-check-recovery" in stacks
    for relative in files:
        ours, theirs = synthesized / relative, cdktn_out / relative
        if relative.name == "cdk.tf.json":
            cdktf_doc = json.loads(ours.read_text())
            cdktn_doc = json.loads(theirs.read_text())
            assert cdktf_doc["resource"], relative
            assert without_core_version(cdktn_doc, "//", CDKTN_VERSION) == without_core_version(
                cdktf_doc, "//", CDKTF_VERSION
            ), relative
        elif relative.name == "manifest.json":
            # cdktn also writes the empty lists as [] where cdktf breaks them over two lines
            assert without_core_version(
                json.loads(theirs.read_text()), "", CDKTN_VERSION
            ) == without_core_version(json.loads(ours.read_text()), "", CDKTF_VERSION)
        else:  # the function packages and the pipeline's files: the same bytes
            assert ours.read_bytes() == theirs.read_bytes(), relative


def test_an_explicit_choice_of_a_missing_core_is_one_line(tmp_path: Path) -> None:
    result = run_cdktn(
        str(REPO / "main.py"), "--out", str(tmp_path / "out"), cwd=tmp_path, HEALSTACK_CDK="cdktf"
    )
    assert result.returncode == 2
    assert result.stderr == (
        "healstack: error: HEALSTACK_CDK=cdktf: cdktf is not installed (pip install cdktf==0.21.0)\n"
    )
    assert not (tmp_path / "out").exists()


def test_the_seam_picks_what_is_installed_or_what_is_asked_for() -> None:
    from healstack.cdk import CORE, chosen

    assert CORE == "cdktf"  # the project venv has cdktf (and no cdktn)
    assert chosen({}) == chosen({"HEALSTACK_CDK": ""}) == chosen({"HEALSTACK_CDK": "cdktf"})
    assert chosen({"HEALSTACK_CDK": " cdktf "}) == "cdktf"
    with pytest.raises(UsageError, match=r"HEALSTACK_CDK=cdktn: cdktn is not installed"):
        chosen({"HEALSTACK_CDK": "cdktn"})
    with pytest.raises(UsageError, match=r'HEALSTACK_CDK "cdk" is not a CDK core'):
        chosen({"HEALSTACK_CDK": "cdk"})
