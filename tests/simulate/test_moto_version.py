"""The simulator needs the moto it was built against: missing or untested, one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata

import pytest

from healstack.simulate import moto_version
from healstack.simulate.moto_version import (
    TESTED_MOTO,
    UNTESTED_ENV,
    MotoVersionError,
    require_moto,
)
from tests.conftest import REPO

EVENT = REPO / "examples" / "events" / "cloudwatch-alarm-ec2-status-check.json"
#: run a module or the CLI with ``import moto`` failing, as without the simulate extra
BLOCK_MOTO = "import sys; sys.modules['moto'] = None; "


def _moto_reports(monkeypatch: pytest.MonkeyPatch, version: str | None) -> None:
    def fake_version(name: str) -> str:
        if name != "moto":
            return metadata.version(name)
        if version is None:
            raise metadata.PackageNotFoundError(name)
        return version

    monkeypatch.setattr(moto_version.metadata, "version", fake_version)


def test_accepts_the_tested_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UNTESTED_ENV, raising=False)
    _moto_reports(monkeypatch, TESTED_MOTO)
    assert require_moto() == TESTED_MOTO


@pytest.mark.parametrize("version", ["5.2.1", "5.2.6", "6.0.0"])
def test_refuses_an_untested_version_in_one_line(
    monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    monkeypatch.delenv(UNTESTED_ENV, raising=False)
    _moto_reports(monkeypatch, version)
    with pytest.raises(MotoVersionError) as refused:
        require_moto()
    message = str(refused.value)
    assert "\n" not in message
    assert f"tested against moto {TESTED_MOTO}, found moto {version}" in message
    assert "pip install 'healstack[simulate]'" in message
    assert f"{UNTESTED_ENV}={version}" in message


def test_the_porting_variable_accepts_exactly_the_version_it_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _moto_reports(monkeypatch, "5.3.0")
    monkeypatch.setenv(UNTESTED_ENV, "5.3.0")
    assert require_moto() == "5.3.0"
    monkeypatch.setenv(UNTESTED_ENV, "5.3.1")
    with pytest.raises(MotoVersionError, match=r"found moto 5\.3\.0"):
        require_moto()


def test_missing_moto_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _moto_reports(monkeypatch, None)
    with pytest.raises(MotoVersionError) as missing:
        require_moto()
    assert str(missing.value) == (
        f"healstack's simulator (simulate, the emulator) needs moto {TESTED_MOTO}, which is not "
        "installed: pip install 'healstack[simulate]'"
    )


def test_the_simulate_extra_pins_the_tested_version_and_the_test_extra_includes_it() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert extras["simulate"] == [f"moto[server]=={TESTED_MOTO}"]
    assert "healstack[simulate]" in extras["test"]
    assert not [spec for spec in extras["test"] if spec.startswith("moto")]  # one place


def test_the_installed_moto_is_the_tested_one() -> None:
    assert metadata.version("moto") == TESTED_MOTO


def _run_without_moto(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_MOTO + code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_simulate_without_moto_is_one_line_and_exit_2() -> None:
    done = _run_without_moto(
        f"from healstack.cli import main; sys.exit(main(['simulate', '--event', {str(EVENT)!r}]))"
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"healstack: error: healstack's simulator (simulate, the emulator) needs moto "
        f"{TESTED_MOTO}, which is not installed: pip install 'healstack[simulate]'\n"
    )


def test_the_emulator_without_moto_is_one_line_and_exit_2() -> None:
    done = _run_without_moto("from tests.emulator.run import main; sys.exit(main([]))")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("emulator: error: ") and "healstack[simulate]" in done.stderr
