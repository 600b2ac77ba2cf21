"""``scripts/deploy_functions.py``: publish, shift the alias through CodeDeploy, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from healstack.providers.aws import packages
from tests.pipeline.helpers import script

deploy = script("deploy_functions")
HANDLER = "healstack_lambda.ec2.reboot"


class FakeLambda:
    def __init__(self, live_sha: str, handler: str = HANDLER) -> None:
        self.handler = handler
        self.live_sha = live_sha
        self.versions = 3
        self.uploaded: list[bytes] = []
        self.pending = 1  # the new version is Pending once before it is Active

    def get_function_configuration(self, FunctionName: str, Qualifier: str | None = None) -> Any:
        if Qualifier == "live":
            return {"CodeSha256": self.live_sha, "Version": "3", "Handler": self.handler}
        if Qualifier is not None and self.pending:
            self.pending -= 1
            return {"State": "Pending"}
        return {"Handler": self.handler, "State": "Active"}

    def update_function_code(self, FunctionName: str, ZipFile: bytes, Publish: bool) -> Any:
        assert Publish is True
        self.uploaded.append(ZipFile)
        self.versions += 1
        return {"Version": str(self.versions)}

    def get_alias(self, FunctionName: str, Name: str) -> Any:
        return {"FunctionVersion": "3"}


class FakeCodeDeploy:
    def __init__(self, statuses: list[dict[str, Any]]) -> None:
        self.statuses = statuses
        self.created: list[dict[str, Any]] = []

    def create_deployment(self, **request: Any) -> Any:
        self.created.append(request)
        return {"deploymentId": f"d-{len(self.created)}"}

    def get_deployment(self, deploymentId: str) -> Any:
        return {"deploymentInfo": self.statuses.pop(0)}


TARGETS = deploy.Targets("healstack-ec2", "live", {"healstack-ec2-reboot": "reboot"})


@pytest.fixture
def built(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    packages.write_all(tmp_path)
    manifest: dict[str, tuple[Path, str]] = deploy.read_manifest(tmp_path)
    return manifest


def run(built: dict[str, tuple[Path, str]], lam: Any, cd: Any) -> tuple[int, list[str]]:
    said: list[str] = []
    sleeps: list[float] = []
    code = deploy.deploy(TARGETS, built, lam, cd, sleep=sleeps.append, say=said.append)
    return code, said


def test_publishes_and_shifts_the_alias_through_codedeploy(built: dict[str, Any]) -> None:
    lam = FakeLambda(live_sha="old")
    cd = FakeCodeDeploy([{"status": "InProgress"}, {"status": "Succeeded"}])
    code, said = run(built, lam, cd)
    assert code == 0
    path, _ = built[HANDLER]
    assert lam.uploaded == [path.read_bytes()]
    (request,) = cd.created
    assert request["applicationName"] == "healstack-ec2"
    assert request["deploymentGroupName"] == "reboot"
    content = json.loads(request["revision"]["appSpecContent"]["content"])
    assert content["Resources"][0]["healstack-ec2-reboot"] == {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Name": "healstack-ec2-reboot",
            "Alias": "live",
            "CurrentVersion": "3",
            "TargetVersion": "4",
        },
    }
    assert said[-1] == "healstack-ec2-reboot: d-1 succeeded"


def test_skips_a_function_whose_alias_already_serves_the_code(built: dict[str, Any]) -> None:
    _, sha = built[HANDLER]
    lam = FakeLambda(live_sha=sha)
    cd = FakeCodeDeploy([])
    code, said = run(built, lam, cd)
    assert code == 0 and lam.uploaded == [] and cd.created == []
    assert "already serves this code" in said[0]


def test_a_rolled_back_deployment_fails_the_stage(built: dict[str, Any]) -> None:
    cd = FakeCodeDeploy(
        [
            {
                "status": "Stopped",
                "errorInformation": {"message": "alarm healstack-ec2-reboot-live-errors fired"},
                "rollbackInfo": {"rollbackDeploymentId": "d-2"},
            }
        ]
    )
    code, said = run(built, FakeLambda(live_sha="old"), cd)
    assert code == 1
    assert said[-1] == (
        "healstack-ec2-reboot: d-1 stopped (rolled back): alarm healstack-ec2-reboot-live-errors fired"
    )


def test_a_handler_without_a_package_is_an_error(built: dict[str, Any]) -> None:
    with pytest.raises(deploy.DeployError, match="no package for its handler"):
        run(built, FakeLambda(live_sha="old", handler="x.y"), FakeCodeDeploy([]))


def test_targets_come_from_the_variable_synthesis_sets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert deploy.parse_targets(
        json.dumps({"application": "a", "alias": "live", "functions": {"f": "g"}})
    ) == deploy.Targets("a", "live", {"f": "g"})
    monkeypatch.delenv(deploy.TARGETS_VARIABLE, raising=False)
    assert deploy.main(["--packages", str(tmp_path)]) == 2
    assert "HEALSTACK_DEPLOY_TARGETS" in capsys.readouterr().err
    assert deploy.main(["--packages", str(tmp_path), "--targets", "{}"]) == 2
    assert "is not the targets JSON" in capsys.readouterr().err
    good = json.dumps({"application": "a", "alias": "live", "functions": {}})
    assert deploy.main(["--packages", str(tmp_path), "--targets", good]) == 2
    assert "no manifest" in capsys.readouterr().err


def test_the_variable_name_is_the_one_the_deploy_build_gets() -> None:
    from healstack.providers.aws.pipeline import DEPLOY_TARGETS_VARIABLE

    assert deploy.TARGETS_VARIABLE == DEPLOY_TARGETS_VARIABLE
    assert deploy.MANIFEST == packages.MANIFEST
