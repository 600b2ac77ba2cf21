"""Dependencies point one way; the AWS resources are healstack's own generated layer."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO

BINDINGS = "cdktf_cdktf_provider_aws"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
    return found


def python_files(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (REPO / f).rglob("*.py"))


def product_files(*folders: str) -> list[Path]:
    """The Python files of ``folders`` and ``main.py``, each once (``healstack/modules`` and
    ``healstack/providers`` are symlinks to the top-level folders, scanned there)."""
    linked = (REPO / "healstack" / "modules", REPO / "healstack" / "providers")
    found = [*python_files(*folders), REPO / "main.py"]
    return [p for p in found if not any(p.is_relative_to(link) for link in linked)]


def test_no_product_code_imports_prebuilt_provider_bindings() -> None:
    """healstack's own typed layer (providers/aws/resources.py) replaces the prebuilt
    bindings; only the platform example (a consumer, with bindings of its own) uses them."""
    offenders = []
    for path in product_files("healstack", "modules", "providers", "lambda_src"):
        if BINDINGS in path.read_text():
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not any(d.startswith("cdktf-cdktf-provider-aws") for d in dependencies)


def test_the_resource_layer_is_what_its_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "generate_resources.py"), "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_modules_and_the_model_know_no_cloud() -> None:
    cloud = ("healstack.providers.aws", "boto3", "botocore", BINDINGS, "healstack_lambda")
    neutral = (
        python_files("modules")
        + [
            REPO / "healstack" / name
            for name in ("playbook.py", "catalog.py", "loader.py", "durations.py", "errors.py")
        ]
        + [REPO / "providers" / "interfaces.py", REPO / "providers" / "workflow.py"]
    )
    for path in neutral:
        bad = [m for m in imports_of(path) if m.startswith(cloud)]
        assert bad == [], f"{path.relative_to(REPO)} imports {bad}"


def test_the_model_imports_no_cdktf() -> None:
    for name in ("playbook.py", "catalog.py", "loader.py", "durations.py"):
        bad = [
            m
            for m in imports_of(REPO / "healstack" / name)
            if m.startswith(("cdktf", "constructs", "healstack.providers", "healstack.modules"))
        ]
        assert bad == [], name


def test_only_the_seam_imports_the_cdk_core() -> None:
    """cdktf or cdktn, whichever is installed: every product module takes the core's names
    from healstack/cdk.py, which alone imports either package."""
    offenders = []
    for path in product_files("healstack", "modules", "providers", "lambda_src", "scripts"):
        if path == REPO / "healstack" / "cdk.py":
            continue
        core = [m for m in imports_of(path) if m.split(".")[0] in ("cdktf", "cdktn")]
        if core:
            offenders.append(f"{path.relative_to(REPO)}: {core}")
    assert offenders == []


def test_no_code_imports_the_top_level_folders_by_their_bare_names() -> None:
    # installed, they are healstack.modules / healstack.providers: a bare `modules` would
    # collide with a platform repo's own package of that name
    for path in [*python_files("healstack", "modules", "providers", "tests"), REPO / "main.py"]:
        bare = [m for m in imports_of(path) if m.split(".")[0] in ("modules", "providers")]
        assert bare == [], f"{path.relative_to(REPO)}: {bare}"


def test_validate_does_not_start_the_jsii_runtime() -> None:
    code = (
        "import sys; from healstack.cli import main; "
        "rc = main(['validate', 'healstack/playbooks/ec2-status-check-recovery.yaml']); "
        "assert rc == 0; assert 'jsii' not in sys.modules, 'jsii loaded'; "
        f"assert '{BINDINGS}' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_package_folder_is_listed_in_pyproject() -> None:
    import tomllib

    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {"healstack_lambda"}
    for top in ("healstack", "modules", "providers"):
        for init in (REPO / top).rglob("__init__.py"):
            parts = init.parent.relative_to(REPO).parts
            found.add(".".join(parts if top == "healstack" else ("healstack", *parts)))
    for init in (REPO / "lambda_src" / "healstack_lambda").rglob("__init__.py"):
        found.add(".".join(init.parent.relative_to(REPO / "lambda_src").parts))
    assert found == listed
