"""``scripts/deploy_functions.py``: only signed objects, publish, shift the alias through
CodeDeploy, report."""

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
    def __init__(self, live_description: str, handler: str = HANDLER) -> None:
        self.handler = handler
        self.live_description = live_description
        self.versions = 3
        self.uploaded: list[tuple[str, str]] = []
        self.published: list[dict[str, str]] = []
        self.updating = 1  # the code update is InProgress once before it is Successful
        self.pending = 1  # the new version is Pending once before it is Active

    def get_function_configuration(self, FunctionName: str, Qualifier: str | None = None) -> Any:
        if Qualifier == "live":
            return {"Description": self.live_description, "Version": "3", "Handler": self.handler}
        if Qualifier is not None and self.pending:
            self.pending -= 1
            return {"State": "Pending"}
        if Qualifier is None and self.uploaded and self.updating:
            self.updating -= 1
            return {"Handler": self.handler, "LastUpdateStatus": "InProgress"}
        return {"Handler": self.handler, "State": "Active", "LastUpdateStatus": "Successful"}

    def update_function_code(
        self, FunctionName: str, S3Bucket: str, S3Key: str, Publish: bool
    ) -> Any:
        assert Publish is False  # the version is published with its package's sha256
        self.uploaded.append((S3Bucket, S3Key))
        return {"CodeSha256": "sha-of-the-signed-zip"}

    def publish_version(self, FunctionName: str, CodeSha256: str, Description: str) -> Any:
        assert CodeSha256 == "sha-of-the-signed-zip"
        self.published.append({"Description": Description})
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


def write_signed(folder: Path) -> None:
    """What the Package stage's signing step writes beside the manifest."""
    manifest = json.loads((folder / deploy.MANIFEST).read_text())["packages"]
    signed = {
        handler: {"bucket": "artifacts", "key": f"p/signed/{n}.zip", "sha256": p["sha256"]}
        for n, (handler, p) in enumerate(sorted(manifest.items()))
    }
    (folder / deploy.SIGNED).write_text(json.dumps({"signed": signed}))


@pytest.fixture
def built(tmp_path: Path) -> dict[str, Any]:
    packages.write_all(tmp_path)
    write_signed(tmp_path)
    signed: dict[str, Any] = deploy.read_signed(tmp_path)
    return signed


def run(built: dict[str, Any], lam: Any, cd: Any) -> tuple[int, list[str]]:
    said: list[str] = []
    sleeps: list[float] = []
    code = deploy.deploy(TARGETS, built, lam, cd, sleep=sleeps.append, say=said.append)
    return code, said


def test_publishes_and_shifts_the_alias_through_codedeploy(built: dict[str, Any]) -> None:
    lam = FakeLambda(live_description="an older version")
    cd = FakeCodeDeploy([{"status": "InProgress"}, {"status": "Succeeded"}])
    code, said = run(built, lam, cd)
    assert code == 0
    signed = built[HANDLER]
    assert lam.uploaded == [(signed.bucket, signed.key)]  # the signed object, never a zip
    assert lam.published == [{"Description": f"healstack package sha256={signed.sha256}"}]
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
    lam = FakeLambda(live_description=f"healstack package sha256={built[HANDLER].sha256}")
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
    code, said = run(built, FakeLambda(live_description="old"), cd)
    assert code == 1
    assert said[-1] == (
        "healstack-ec2-reboot: d-1 stopped (rolled back): alarm healstack-ec2-reboot-live-errors fired"
    )


def test_a_handler_without_a_package_is_an_error(built: dict[str, Any]) -> None:
    with pytest.raises(deploy.DeployError, match="no package for its handler"):
        run(built, FakeLambda(live_description="old", handler="x.y"), FakeCodeDeploy([]))


def test_a_package_without_its_signed_object_is_an_error(tmp_path: Path) -> None:
    packages.write_all(tmp_path)
    with pytest.raises(deploy.DeployError, match="no signed packages"):
        deploy.read_signed(tmp_path)
    write_signed(tmp_path)
    signed = json.loads((tmp_path / deploy.SIGNED).read_text())
    signed["signed"][HANDLER]["sha256"] = "another package"  # signed, but not this package
    (tmp_path / deploy.SIGNED).write_text(json.dumps(signed))
    with pytest.raises(deploy.DeployError, match=f"{HANDLER}: no signed object"):
        deploy.read_signed(tmp_path)


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


def test_a_platform_step_ships_like_healstacks_own(tmp_path: Path) -> None:
    """The Package stage's zip of a platform step (``healstack package --platform-step``) is
    the very one synthesis embeds, and the Deploy stage rolls it out by its handler."""
    from healstack.loader import load_playbook
    from healstack.modules.compile import compile_playbook
    from tests.conftest import REPO

    example = REPO / "examples" / "platform-steps"
    playbook = load_playbook(example / "web-drain-and-restart.yaml")
    (spec,) = [f for f in compile_playbook(playbook).functions if f.platform is not None]
    step = (spec.platform.name, spec.platform.function, Path(spec.platform.file))
    packages.write_all(tmp_path, [step])
    write_signed(tmp_path)
    built = deploy.read_signed(tmp_path)
    embedded = packages.platform_package(*step)
    assert built["drain.handler"].sha256 == embedded.sha256_base64
    lam = FakeLambda(live_description="an older version", handler="drain.handler")
    cd = FakeCodeDeploy([{"status": "Succeeded"}])
    targets = deploy.Targets("healstack-web", "live", {"healstack-web-run-drain": "run-drain"})
    said: list[str] = []
    code = deploy.deploy(targets, built, lam, cd, sleep=lambda s: None, say=said.append)
    assert code == 0, said
    assert lam.uploaded == [(built["drain.handler"].bucket, built["drain.handler"].key)]
    assert said[-1] == "healstack-web-run-drain: d-1 succeeded"
