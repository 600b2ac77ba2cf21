"""``healstack package``: the Package stage's zips are the synthesized assets, byte for byte."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from healstack.cli import main
from healstack.providers.aws import packages
from healstack.providers.aws.provider import AwsProvider
from healstack.providers.aws.steps import ALL_IMPLEMENTATIONS
from tests.conftest import load_stack
from tests.pipeline.helpers import resources


def package_in_fresh_process(out: Path, cwd: Path) -> dict[str, bytes]:
    result = subprocess.run(
        [sys.executable, "-m", "healstack.cli", "package", "--out", str(out)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_two_processes_in_different_directories_write_identical_bytes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    first = package_in_fresh_process(tmp_path / "a" / "dist", tmp_path / "a")
    second = package_in_fresh_process(tmp_path / "elsewhere" / "out", tmp_path / "b" / "deeper")
    assert first == second
    handlers = {impl.handler for impl in ALL_IMPLEMENTATIONS}
    assert set(first) == {f"{h}.zip" for h in handlers} | {packages.MANIFEST}
    manifest = json.loads(first[packages.MANIFEST])
    assert str(tmp_path) not in first[packages.MANIFEST].decode()
    for handler, entry in manifest["packages"].items():
        with zipfile.ZipFile(tmp_path / "a" / "dist" / entry["file"]) as archive:
            assert archive.testzip() is None
            assert handler.rsplit(".", 1)[0].replace(".", "/") + ".py" in archive.namelist()


def test_every_synthesized_function_ships_exactly_its_handlers_package(
    synthesized: Path, tmp_path: Path
) -> None:
    """Same bytes as the pipeline's zips: what Terraform uploads and signs for a function
    (its first code) is the zip the Package stage builds and signs for its handler."""
    packages.write_all(tmp_path)
    manifest = json.loads((tmp_path / packages.MANIFEST).read_text())["packages"]
    checked = 0
    for stack_dir in sorted((synthesized / "stacks").iterdir()):
        stack: dict[str, Any] = load_stack(synthesized, stack_dir.name)
        uploads = resources(stack, "aws_s3_object")
        jobs = resources(stack, "aws_signer_signing_job")
        for fn in resources(stack, "aws_lambda_function").values():
            entry = manifest[fn["handler"]]
            job = fn["s3_key"].split(".")[1]  # ${aws_signer_signing_job.<job>.signed_object...
            upload = jobs[job]["source"]["s3"]["key"].split(".")[1]  # ${aws_s3_object.<upload>.key}
            assert uploads[upload]["source_hash"] == entry["sha256"], fn["function_name"]
            assert (stack_dir / uploads[upload]["source"]).read_bytes() == (
                tmp_path / entry["file"]
            ).read_bytes()
            checked += 1
    assert checked >= 6


def test_synthesis_and_package_share_one_module_list() -> None:
    for impl in ALL_IMPLEMENTATIONS:
        assert AwsProvider._modules(impl) == packages.function_modules(impl)


def test_package_into_a_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["package", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err


def test_package_needs_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["package"]) == 2
    assert "--out" in capsys.readouterr().err


def test_package_does_not_start_jsii() -> None:
    code = (
        "import sys, tempfile; from healstack.cli import main; "
        "rc = main(['package', '--out', tempfile.mkdtemp()]); assert rc == 0; "
        "assert 'jsii' not in sys.modules, 'jsii loaded'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
