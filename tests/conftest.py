"""Fixtures shared by the whole suite: the synthesized shipped playbooks, terraform set-up."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from healstack.loader import shipped_playbook_path, shipped_playbooks

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def synth(out: Path, *args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> None:
    """Run ``python main.py`` in a fresh process, as a user would."""
    result = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "--out", str(out), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def healstack_here(*argv: str, cwd: Path = REPO) -> str:
    """``healstack ARGV`` (what ``python main.py`` runs for ``synth``) in this process, from
    ``cwd``; its stdout. A test process loads jsii and the AWS bindings anyway (test modules
    import the provider at collection), so a synthesis here costs about a second where a
    fresh process pays ~7 s to load them again. For the tests that are not about the process
    boundary; determinism across processes and ``python main.py`` itself use ``synth``."""
    from healstack.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    assert code == 0, err.getvalue()
    return out.getvalue()


def synth_here(out: Path, *args: str, cwd: Path = REPO) -> None:
    """``synth`` in this process (see ``healstack_here``)."""
    healstack_here("synth", "--out", str(out), *args, cwd=cwd)


def synth_playbook(out: Path, playbook: dict[str, Any]) -> dict[str, Any]:
    """Synthesize one playbook given as data (written beside ``out``); its stack."""
    import yaml

    path = out.parent / f"{playbook['name']}.yaml"
    path.write_text(yaml.safe_dump(playbook))
    synth_here(out, "--playbook", str(path))
    return load_stack(out, playbook["name"])


def stack_writer(playbook: dict[str, Any]) -> Callable[[Path, Path], None]:
    """A ``TO_VALIDATE`` entry: the stack of ``playbook`` (as data), synthesized afresh."""

    def write(dest: Path, _synthesized: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "cdktf.out"
            synth_playbook(out, playbook)
            shutil.copytree(out / "stacks" / playbook["name"], dest)

    return write


def all_playbook_args() -> list[str]:
    args: list[str] = []
    for name in shipped_playbooks():
        args += ["--playbook", str(shipped_playbook_path(name))]
    return args


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cdktf.out for every shipped playbook (one stack each), synthesized once per test process
    (in it: tests/core/test_synth.py pins that ``python main.py`` in another process, directory
    and output path writes the same bytes)."""
    out = tmp_path_factory.mktemp("synth") / "cdktf.out"
    synth_here(out, *all_playbook_args())
    return out


def load_stack(out: Path, name: str) -> dict[str, Any]:
    return json.loads((out / "stacks" / name / "cdk.tf.json").read_text())


@pytest.fixture(scope="session")
def default_stack(synthesized: Path) -> dict[str, Any]:
    return load_stack(synthesized, "ec2-status-check-recovery")


@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from healstack.terraform_cli import terraform_env as make_env

    yield make_env(tmp_path_factory.mktemp("tfcli"))


def once_per_run(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]
) -> Path:
    """The folder ``make(folder)`` fills, made once per test run. Under xdist each worker has
    session fixtures of its own; this folder is shared through the run's common temporary
    folder instead: the first worker to ask makes it holding a lock, the others wait for it
    and read it. A failed ``make`` leaves nothing done (the next worker tries again)."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        folder = tmp_path_factory.mktemp(name)
        make(folder)
        return folder
    root = tmp_path_factory.getbasetemp().parent  # the run's, above each worker's own
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


#: what terraform says of a backend block in a module it calls (only a root's counts)
CHILD_BACKEND = "Backend configuration ignored"

#: the root configurations ``validated`` checks in one terraform run, by module name: a
#: function that writes the configuration into the new folder it is given (the first
#: argument), from the synthesized shipped stacks (the second). Test modules add theirs as
#: they are imported, so a run validates what its collected tests check.
TO_VALIDATE: dict[str, Callable[[Path, Path], None]] = {}


def validate_as_modules(folder: Path, modules: list[str], env: dict[str, str]) -> str | None:
    """``terraform init -backend=false`` and ``validate -json`` in ``folder``, whose
    subfolders ``modules`` are root configurations: a root that calls each, unchanged, as a
    module (the AWS provider's schema, most of a validate's cost, loads once instead of once
    per configuration; terraform validates every module and tells each one's problems
    apart). Its verdict is kept in the folder; returns why there is none, or None."""
    calls = {name: {"source": f"./{name}"} for name in modules}
    (folder / "main.tf.json").write_text(json.dumps({"module": calls}))
    verdict: dict[str, Any] = {"modules": modules}
    for command in (
        ["init", "-backend=false", "-input=false", "-no-color"],
        ["validate", "-json", "-no-color"],
    ):
        result = subprocess.run(
            ["terraform", *command],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if command[0] == "init" and result.returncode != 0:
            return f"terraform init\n{result.stdout}\n{result.stderr}"
    try:
        verdict["report"] = json.loads(result.stdout)
    except ValueError:
        return f"terraform validate\n{result.stdout}\n{result.stderr}"
    (folder / "validation.json").write_text(json.dumps(verdict))
    return None


@dataclass(frozen=True)
class Validation:
    """The verdict of ``validate_as_modules`` on every configuration of ``TO_VALIDATE``.
    When there is none (terraform init fails on any module), each configuration asked about
    is validated again alone, so each test still reports only its own problems."""

    folder: Path
    env: dict[str, str]
    failure: str | None  # why the run together has no verdict
    scratch: Path  # this test process's own temporary folder

    def findings(self, name: str) -> tuple[list[str], list[str]]:
        """(every problem terraform found in ``name`` or outside every module, the files of
        its ``CHILD_BACKEND`` warnings)."""
        folder = self.folder
        error = folder / f"{name}.error"
        assert not error.exists(), f"writing {name} failed:\n{error.read_text()}"
        if self.failure is not None:  # validate this one alone, in a folder of its own
            folder = Path(tempfile.mkdtemp(prefix=f"validate-{name}-", dir=self.scratch))
            shutil.copytree(self.folder / name, folder / name)
            failure = validate_as_modules(folder, [name], self.env)
            assert failure is None, failure
        verdict = json.loads((folder / "validation.json").read_text())
        assert name in verdict["modules"], f"{name} is not among {verdict['modules']}"
        problems, backends = [], []
        for found in verdict["report"]["diagnostics"]:
            filename = found.get("range", {}).get("filename", "")
            owner = filename.split("/")[0] if "/" in filename else None
            if owner not in (name, None):
                continue  # another module's: that module's test reports it
            if owner == name and (found["severity"], found["summary"]) == (
                "warning",
                CHILD_BACKEND,
            ):
                backends.append(filename)
            else:
                problems.append(
                    f"{found['severity']}: {found['summary']} ({filename or 'no file'}): "
                    f"{found['detail']}"
                )
        return problems, backends

    def backend_file(self, name: str) -> str:
        """Assert terraform accepts ``name`` as ``terraform validate`` of it alone would
        ("Success! The configuration is valid.", no warning): no error, and no warning but
        the one its backend block earns as a called module (with ``-backend=false``, neither
        init nor validate reads a root's backend settings either). The file of that block."""
        problems, backends = self.findings(name)
        assert problems == [], f"terraform validate (module.{name} is in {name}/):\n" + (
            "\n".join(problems)
        )
        assert len(backends) == 1, f"{name}: {CHILD_BACKEND} in {backends} (one backend block)"
        return backends[0]


@pytest.fixture(scope="session")
def validated(
    tmp_path_factory: pytest.TempPathFactory, synthesized: Path, terraform_env: dict[str, str]
) -> Validation:
    """Every configuration of ``TO_VALIDATE``, validated together once per run."""

    def make(folder: Path) -> None:
        modules = []
        for name, write in sorted(TO_VALIDATE.items()):
            try:
                write(folder / name, synthesized)
            except Exception:  # that configuration's test reports it; the others go on
                (folder / f"{name}.error").write_text(traceback.format_exc())
                shutil.rmtree(folder / name, ignore_errors=True)
            else:
                modules.append(name)
        failure = validate_as_modules(folder, modules, terraform_env)
        (folder / "failure.txt").write_text(failure or "")

    folder = once_per_run(tmp_path_factory, "validated", make)
    failure = (folder / "failure.txt").read_text()
    return Validation(folder, terraform_env, failure or None, tmp_path_factory.getbasetemp())


def pytest_configure(config: pytest.Config) -> None:
    """Keep the order ``pytest_collection_modifyitems`` sets under xdist: its loadfile
    scheduling reorders the files by their number of tests (``--loadscope-reorder``, on by
    default), which put the one-test emulator file last, to run alone after everything else
    (``./dev test``: 331 s; in this order 271 s)."""
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist's option
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the emulator applies first: with several workers (``./dev test`` runs ``-n auto
    --dist loadfile``) they then overlap the rest of the suite instead of finishing it alone.
    Stable, and whole files move together, so module fixtures are set up once."""
    items.sort(key=lambda item: item.get_closest_marker("emulator") is None)
