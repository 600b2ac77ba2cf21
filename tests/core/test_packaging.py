"""Function packages are reproducible and self-contained."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

from healstack import packaging
from healstack.providers.aws.provider import AwsProvider
from healstack.providers.aws.steps import ALL_IMPLEMENTATIONS, STEPS, StepImplementation
from tests.conftest import REPO

ALL = list(ALL_IMPLEMENTATIONS)


def package_for(impl: StepImplementation) -> packaging.Package:
    return packaging.package_modules("fn", AwsProvider._modules(impl))


def test_zip_entries_are_sorted_with_fixed_time_and_mode() -> None:
    data = package_for(STEPS[("ec2_instance", "reboot")]).data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert "healstack_lambda/ec2.py" in names and "healstack_lambda/rds.py" not in names
    for info in infos:
        assert info.date_time == packaging.FIXED_DATE_TIME
        assert info.external_attr == packaging.FILE_MODE
        assert info.compress_type == zipfile.ZIP_STORED


def test_same_source_same_bytes_in_another_process_and_directory(tmp_path: Path) -> None:
    # the module list through packages, which AwsProvider._modules returns (tests/pipeline/
    # test_package_command.py pins that), so the other process need not load jsii (~6 s)
    code = (
        "from healstack.providers.aws.packages import function_modules; "
        "from healstack.providers.aws.steps import STEPS; from healstack import packaging; "
        "import sys; sys.stdout.write(packaging.package_modules('fn', "
        "function_modules(STEPS[('ec2_instance', 'reboot')])).sha256_base64)"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout == package_for(STEPS[("ec2_instance", "reboot")]).sha256_base64


def test_crlf_checkouts_package_the_same_bytes(tmp_path: Path) -> None:
    lf = packaging.build_zip([("a.py", b"x = 1\n")])
    assert packaging.build_zip([("a.py", b"x = 1\n")]) == lf
    (tmp_path / "healstack_lambda").mkdir()


def test_every_handler_imports_from_its_own_package_alone(tmp_path: Path) -> None:
    for impl in ALL:
        folder = tmp_path / impl.handler
        with zipfile.ZipFile(io.BytesIO(package_for(impl).data)) as archive:
            archive.extractall(folder)
        module, _, function = impl.handler.rpartition(".")
        code = f"import {module} as m; assert callable(m.{function})"
        result = subprocess.run(
            [
                sys.executable,
                "-I",
                "-c",
                f"import sys; sys.path.insert(0, {str(folder)!r}); {code}",
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"{impl.handler}: {result.stderr}"


def test_packages_hold_only_the_standard_library_and_boto3() -> None:
    allowed_prefixes = ("healstack_lambda", "boto3", "botocore")
    stdlib = set(sys.stdlib_module_names)
    for path in sorted((REPO / "lambda_src" / "healstack_lambda").glob("*.py")):
        import ast

        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in stdlib or name.startswith(allowed_prefixes), f"{path.name}: {name}"
