"""Re-synthesis keeps what ``terraform init`` left in each stack folder, as the cdktf CLI does:
``.terraform.lock.hcl`` (committed) and ``.terraform``; still whole-or-nothing, still the same
bytes for every synthesized file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from healstack import synth as synth_module
from healstack.loader import load_playbook, shipped_playbook_path
from healstack.playbook import Playbook

STACK = "ec2-status-check-recovery"
LOCK = '# This file is maintained automatically by "terraform init".\nprovider "x" {}\n'


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return load_playbook(shipped_playbook_path())


def _files(root: Path, *, skip: tuple[str, ...] = (".terraform", ".terraform.lock.hcl")) -> dict:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not set(p.relative_to(root).parts) & set(skip)
    }


def _initialized(out: Path) -> Path:
    """Pretend ``terraform init`` ran in the stack: a lock file, a providers folder, and a
    stack folder of a playbook that is no longer synthesized."""
    stack = out / "stacks" / STACK
    (stack / ".terraform.lock.hcl").write_text(LOCK)
    (stack / ".terraform" / "providers").mkdir(parents=True)
    (stack / ".terraform" / "providers" / "plugin").write_bytes(b"\x7fELF")
    gone = out / "stacks" / "removed-playbook"
    (gone / ".terraform").mkdir(parents=True)
    (gone / ".terraform.lock.hcl").write_text(LOCK)
    return stack


def test_resynth_keeps_the_lock_file_and_terraform_folder(
    tmp_path: Path, playbook: Playbook
) -> None:
    out = tmp_path / "cdktf.out"
    synth_module.synthesize([playbook], out)
    first = _files(out)
    stack = _initialized(out)
    inode = (stack / ".terraform").stat().st_ino

    synth_module.synthesize([playbook], out)

    assert (stack / ".terraform.lock.hcl").read_text() == LOCK
    assert (stack / ".terraform" / "providers" / "plugin").read_bytes() == b"\x7fELF"
    assert (stack / ".terraform").stat().st_ino == inode  # moved, not copied
    assert _files(out) == first  # the synthesized files: the same bytes
    assert not (out / "stacks" / "removed-playbook").exists()  # a removed stack goes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdktf.out"]  # no staging left


def test_a_failed_resynth_leaves_the_old_output_with_its_terraform_files(
    tmp_path: Path, playbook: Playbook, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "cdktf.out"
    synth_module.synthesize([playbook], out)
    stack = _initialized(out)
    before = _files(out, skip=())

    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("healstack.modules.stack.RecoveryStack.__init__", explode)
    with pytest.raises(RuntimeError):
        synth_module.synthesize([playbook], out)
    assert _files(out, skip=()) == before
    assert (stack / ".terraform.lock.hcl").read_text() == LOCK


def test_a_failed_swap_puts_the_kept_files_back(tmp_path: Path) -> None:
    """The output is in place but renaming the staging folder fails: the old output,
    including what was being carried over, is exactly as it was; no staging is left."""
    out = tmp_path / "out"
    (out / "stacks" / "a" / ".terraform").mkdir(parents=True)
    (out / "stacks" / "a" / ".terraform.lock.hcl").write_text(LOCK)
    (out / "stacks" / "a" / "cdk.tf.json").write_text("old")
    before = _files(out, skip=())
    real_rename = Path.rename

    def rename(self: Path, target: Path) -> Path:
        if self.name.startswith(".out.partial-"):
            raise OSError("disk full")
        return real_rename(self, target)

    with (
        pytest.MonkeyPatch.context() as patch,
        pytest.raises(OSError, match="disk full"),
        synth_module.staged_output(out, keep=synth_module.TERRAFORM_KEEPS) as staging,
    ):
        patch.setattr(Path, "rename", rename)
        (staging / "stacks" / "a").mkdir(parents=True)
        (staging / "stacks" / "a" / "cdk.tf.json").write_text("new")
    assert _files(out, skip=()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.slow
def test_terraform_needs_no_second_init_after_a_resynth(
    tmp_path: Path, playbook: Playbook, terraform_env: dict[str, str]
) -> None:
    out = tmp_path / "cdktf.out"
    synth_module.synthesize([playbook], out)
    stack = out / "stacks" / STACK

    def terraform(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["terraform", *args, "-no-color"],
            cwd=stack,
            env=terraform_env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    init = terraform("init", "-backend=false", "-input=false")
    assert init.returncode == 0, init.stderr
    lock = (stack / ".terraform.lock.hcl").read_text()

    synth_module.synthesize([playbook], out)

    assert (stack / ".terraform.lock.hcl").read_text() == lock
    validate = terraform("validate")  # fails with "run terraform init" when .terraform is gone
    assert validate.returncode == 0, validate.stderr
