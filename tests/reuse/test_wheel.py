"""The wheel a platform installs: ``healstack.*`` (the ``modules``/``providers`` symlinks
resolved into real files) and ``healstack_lambda``, and nothing at the top level that could
shadow a platform's own packages; installed into a fresh virtual environment it synthesizes
the platform example exactly as the repository does."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from healstack import __version__
from tests.conftest import REPO, load_stack
from tests.reuse.helpers import PLATFORM_STACK, copy_example, run_example

pytestmark = pytest.mark.slow

NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "build",
    "dist",
    "*.egg-info",
    "cdktf.out",
    ".healstack",
    ".terraform*",
    "__pycache__",
    ".*_cache",
    "node_modules",  # the cdktf CLI's (package.json), ~400 MB: no part of the wheel
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel --no-deps .`` of a copy of the checkout (the build writes ``build/``)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(REPO, source, symlinks=True, ignore=NOT_SOURCE)
    assert (source / "healstack" / "modules").is_symlink()
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", ".", "-w", str(tmp / "dist")],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (built,) = (tmp / "dist").glob("healstack-*.whl")
    return built


def test_the_wheel_holds_healstack_and_the_handlers_only(wheel: Path) -> None:
    assert wheel.name == f"healstack-{__version__}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"healstack", "healstack_lambda", f"healstack-{__version__}.dist-info"}
    for required in (
        "healstack/modules/recovery_workflow.py",
        "healstack/modules/stack.py",
        "healstack/modules/compile.py",
        "healstack/providers/interfaces.py",
        "healstack/providers/aws/provider.py",
        "healstack/providers/aws/resources.py",
        "healstack/providers/aws/resource_base.py",
        "healstack/providers/aws/schema/aws-5.100.0.json",
        "healstack/tfmodule.py",
        "healstack/playbooks/ec2-status-check-recovery.yaml",
        "healstack/py.typed",
        "healstack_lambda/notify.py",
        # what the pipeline's builds run, inlined at synthesis
        "healstack/scripts/deploy_functions.py",
        "healstack/scripts/sign_packages.py",
        "healstack/requirements/pipeline-deploy.txt",
    ):
        assert required in names, required
    # the symlinked folders arrive whole, as files
    for folder in ("modules", "providers"):
        in_repo = sorted(p.relative_to(REPO).as_posix() for p in (REPO / folder).rglob("*.py"))
        in_wheel = sorted(
            n.removeprefix("healstack/")
            for n in names
            if n.startswith(f"healstack/{folder}/") and n.endswith(".py")
        )
        assert in_wheel == in_repo
    metadata = zipfile.ZipFile(wheel).read(f"healstack-{__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {__version__}\n" in metadata


def test_installed_in_a_fresh_venv_beside_a_platform_repo(
    wheel: Path, tmp_path: Path, platform_out: Path, synthesized: Path
) -> None:
    """The wheel installs into a new venv; the pinned dependencies are borrowed from the
    project venv through a ``.pth`` (offline and fast; a full ``pip install`` of the wheel
    with its pins resolves the same set). Its synthesis of the platform example is the
    repository's, byte for byte. The venv gets no pip of its own (ensurepip costs ~6 s): the
    project's pip installs into it (``pip --python``), scripts and all."""
    venv = tmp_path / "fresh"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = str(venv / "bin" / "python")
    install = ["install", "-q", "--no-deps", "--no-index", str(wheel)]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, *install],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # a plain path line: the project venv's own .pth files (its editable healstack) stay off
    (Path(site) / "healstack-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = copy_example(tmp_path)
    where = subprocess.run(
        [python, "-c", "import healstack, modules; print(healstack.__file__, modules.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.returncode == 0, where.stderr
    healstack_file, modules_file = where.stdout.split()
    assert Path(healstack_file).is_relative_to(venv)
    assert Path(modules_file).is_relative_to(work)

    installed = run_example(python, work, tmp_path / "installed")
    assert installed.returncode == 0, installed.stderr
    assert load_stack(tmp_path / "installed", PLATFORM_STACK) == load_stack(
        platform_out, PLATFORM_STACK
    )

    version = subprocess.run(
        [str(venv / "bin" / "healstack"), "--version"], capture_output=True, text=True, timeout=120
    )
    assert version.stdout.strip() == f"healstack {__version__}"

    # the default stack, pipeline and code signing included, synthesizes from the wheel alone
    # (the pipeline inlines its scripts and deploy lock) and is the checkout's, byte for byte
    default = subprocess.run(
        [str(venv / "bin" / "healstack"), "synth", "--out", str(tmp_path / "default")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert default.returncode == 0, default.stderr
    name = "ec2-status-check-recovery"
    assert load_stack(tmp_path / "default", name) == load_stack(synthesized, name)
