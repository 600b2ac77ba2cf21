"""The synthesized pipeline of the default stack: every resource and its security properties."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from healstack.providers.aws.naming import EVENT_RULE, IAM_ROLE
from healstack.providers.aws.pipeline import (
    ROLE_SUFFIXES,
    SOURCE_KEY,
    buildspec,
    role_name,
    terraform_literal,
)
from healstack.providers.aws.steps import STAR_RESOURCE_REASONS
from healstack.providers.interfaces import DeploymentSettings, PipelineSource, Rollout
from tests.conftest import TO_VALIDATE, Validation
from tests.pipeline.helpers import named, one, policy_of, ref, resources, synth_with_settings

FUNCTIONS = 6  # the default EC2 playbook's functions


def key_ref(stack: dict[str, Any]) -> str:
    name, _ = named(stack, "aws_kms_key", "pipeline_key")
    return ref("aws_kms_key", name, "arn")


def bucket(stack: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return named(stack, "aws_s3_bucket", "pipeline_artifacts")


def test_pipeline_key_rotates_and_lets_logs_encrypt_only_the_build_log_group(
    default_stack: dict[str, Any],
) -> None:
    _, key = named(default_stack, "aws_kms_key", "pipeline_key")
    assert key["enable_key_rotation"] is True
    statements = json.loads(key["policy"])["Statement"]
    logs = next(s for s in statements if s["Sid"] == "CloudWatchLogsEncryptsBuildLogs")
    (context,) = logs["Condition"]["ArnEquals"].values()
    assert context.endswith(":log-group:/aws/codebuild/healstack-ec2-status-check-recovery")
    _, alias = named(default_stack, "aws_kms_alias", "pipeline_key-alias")
    assert alias["name"] == "alias/healstack-ec2-status-check-recovery-pipeline"


def test_artifact_bucket_is_private_versioned_kms_encrypted_tls_only(
    default_stack: dict[str, Any],
) -> None:
    name, artifacts = bucket(default_stack)
    bucket_id = ref("aws_s3_bucket", name, "id")
    assert artifacts["bucket_prefix"] == "healstack-ec2-status-check-recovery-"
    assert len(artifacts["bucket_prefix"]) <= 37
    # Signer writes objects Terraform does not track: a destroy must be able to empty it
    assert artifacts["force_destroy"] is True
    _, versioning = named(default_stack, "aws_s3_bucket_versioning", "artifacts-versioning")
    assert versioning["bucket"] == bucket_id
    assert versioning["versioning_configuration"] == {"status": "Enabled"}
    _, encryption = named(
        default_stack, "aws_s3_bucket_server_side_encryption_configuration", "artifacts"
    )
    assert encryption["rule"] == [
        {
            "apply_server_side_encryption_by_default": {
                "kms_master_key_id": key_ref(default_stack),
                "sse_algorithm": "aws:kms",
            },
            "bucket_key_enabled": True,
        }
    ]
    block = one(default_stack, "aws_s3_bucket_public_access_block")
    assert block["bucket"] == bucket_id
    for setting in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert block[setting] is True, setting
    ownership = one(default_stack, "aws_s3_bucket_ownership_controls")
    assert ownership["rule"] == {"object_ownership": "BucketOwnerEnforced"}
    # the first statement; the upload and encryption ones: tests/pipeline/test_source_trust.py
    deny = json.loads(one(default_stack, "aws_s3_bucket_policy")["policy"])["Statement"][0]
    assert deny["Sid"] == "DenyInsecureTransport"
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
    arn = ref("aws_s3_bucket", name, "arn")
    assert deny["Resource"] == [arn, f"{arn}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_old_artifacts_expire(default_stack: dict[str, Any]) -> None:
    lifecycle = one(default_stack, "aws_s3_bucket_lifecycle_configuration")
    (rule,) = lifecycle["rule"]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == [{}]  # every object
    assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": 30}]
    assert rule["abort_incomplete_multipart_upload"] == [{"days_after_initiation": 7}]
    assert rule["expiration"] == [{"expired_object_delete_marker": True}]
    # lifecycle on a bucket whose versioning is still being enabled is rejected
    assert lifecycle["depends_on"][0].startswith("aws_s3_bucket_versioning.")


def test_builds_are_unprivileged_encrypted_logged_and_run_inline_buildspecs(
    default_stack: dict[str, Any],
) -> None:
    _, logs = named(default_stack, "aws_cloudwatch_log_group", "pipeline_build-logs")
    assert logs["name"] == "/aws/codebuild/healstack-ec2-status-check-recovery"
    assert logs["retention_in_days"] == DeploymentSettings().log_retention_days
    assert logs["kms_key_id"] == key_ref(default_stack)
    projects = resources(default_stack, "aws_codebuild_project")
    assert len(projects) == 3
    for stage in ("test", "package", "deploy"):
        _, project = named(default_stack, "aws_codebuild_project", f"build-{stage}")
        assert project["name"] == f"healstack-ec2-status-check-recovery-{stage}"
        assert project["source"] == {
            "type": "CODEPIPELINE",
            "buildspec": terraform_literal(buildspec(stage)),
        }
        role = {"package": "build"}.get(stage, stage)  # the Package stage's role is "build"
        assert project["service_role"].startswith(f"${{aws_iam_role.recovery_pipeline_{role}-")
        assert project["artifacts"] == {"type": "CODEPIPELINE"}
        assert project["encryption_key"] == key_ref(default_stack)
        environment = project["environment"]
        assert environment["privileged_mode"] is False
        assert environment["image_pull_credentials_type"] == "CODEBUILD"
        assert environment["image"].startswith("aws/codebuild/")
        cloudwatch = project["logs_config"]["cloudwatch_logs"]
        assert cloudwatch["status"] == "ENABLED" and cloudwatch["stream_name"] == stage
        assert cloudwatch["group_name"].startswith("${aws_cloudwatch_log_group.")
        assert project["logs_config"]["s3_logs"] == {"status": "DISABLED"}
        assert 0 < project["build_timeout"] <= 480


def test_deploy_build_knows_every_function_and_its_deployment_group(
    default_stack: dict[str, Any],
) -> None:
    _, project = named(default_stack, "aws_codebuild_project", "build-deploy")
    (variable,) = project["environment"]["environment_variable"]
    assert variable["name"] == "HEALSTACK_DEPLOY_TARGETS" and variable["type"] == "PLAINTEXT"
    targets = json.loads(variable["value"])
    names = {f["function_name"] for f in resources(default_stack, "aws_lambda_function").values()}
    groups = {
        g["deployment_group_name"]
        for g in resources(default_stack, "aws_codedeploy_deployment_group").values()
    }
    assert targets["alias"] == "live"
    assert targets["application"] == one(default_stack, "aws_codedeploy_app")["name"]
    assert set(targets["functions"]) == names
    assert set(targets["functions"].values()) == groups
    # canary 10 % then the rest after 5 minutes, plus the build's own margin
    assert project["build_timeout"] == 5 + 20


def test_pipeline_is_v2_encrypted_and_runs_source_test_package_deploy(
    default_stack: dict[str, Any],
) -> None:
    pipeline = one(default_stack, "aws_codepipeline")
    assert pipeline["pipeline_type"] == "V2"
    assert pipeline["execution_mode"] == "QUEUED"
    name, _ = bucket(default_stack)
    (store,) = pipeline["artifact_store"]
    assert store == {
        "location": ref("aws_s3_bucket", name, "bucket"),
        "type": "S3",
        "encryption_key": {"id": key_ref(default_stack), "type": "KMS"},
    }
    stages = {s["name"]: s["action"] for s in pipeline["stage"]}
    assert list(stages) == ["Source", "Test", "Package", "Deploy"]
    (source,) = stages["Source"]
    assert source["provider"] == "S3" and source["output_artifacts"] == ["source"]
    assert source["configuration"] == {
        "S3Bucket": ref("aws_s3_bucket", name, "bucket"),
        "S3ObjectKey": SOURCE_KEY,
        "PollForSourceChanges": "false",
    }
    wiring = {
        "Test": (["source"], None, "build-test"),
        "Package": (["source"], ["packages"], "build-package"),
        "Deploy": (["packages"], None, "build-deploy"),  # never the uploaded source
    }
    for stage, (inputs, outputs, project) in wiring.items():
        (action,) = stages[stage]
        assert action["provider"] == "CodeBuild"
        assert action["input_artifacts"] == inputs
        assert action.get("output_artifacts") == outputs
        project_name, _ = named(default_stack, "aws_codebuild_project", project)
        assert action["configuration"]["ProjectName"] == ref(
            "aws_codebuild_project", project_name, "name"
        )
    assert "PrimarySource" not in stages["Deploy"][0]["configuration"]


def test_an_upload_starts_the_pipeline_through_a_dead_lettered_rule(
    default_stack: dict[str, Any],
) -> None:
    name, _ = bucket(default_stack)
    notification = one(default_stack, "aws_s3_bucket_notification")
    assert notification["eventbridge"] is True
    rule_name, rule = named(default_stack, "aws_cloudwatch_event_rule", "pipeline_source-uploaded")
    pattern = json.loads(rule["event_pattern"])
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [ref("aws_s3_bucket", name, "bucket")]
    assert pattern["detail"]["object"]["key"] == [SOURCE_KEY]
    _, target = named(default_stack, "aws_cloudwatch_event_target", "pipeline_start-pipeline")
    pipeline_name, _ = named(default_stack, "aws_codepipeline", "pipeline")
    assert target["arn"] == ref("aws_codepipeline", pipeline_name, "arn")
    assert target["rule"] == ref("aws_cloudwatch_event_rule", rule_name, "name")
    assert target["dead_letter_config"]["arn"].startswith("${aws_sqs_queue.")
    assert policy_of(default_stack, "start") == [
        {
            "Effect": "Allow",
            "Action": ["codepipeline:StartPipelineExecution"],
            "Resource": target["arn"],
        }
    ]


def test_codedeploy_shifts_each_alias_gradually_and_rolls_back_on_its_alarm(
    default_stack: dict[str, Any],
) -> None:
    app_name, app = named(default_stack, "aws_codedeploy_app", "codedeploy-app")
    assert app["compute_platform"] == "Lambda"
    alarms = {
        name: alarm
        for name, alarm in resources(default_stack, "aws_cloudwatch_metric_alarm").items()
        if "alarm-step-errors" in name  # monitoring's step-error alarms, handed to the pipeline
    }
    groups = resources(default_stack, "aws_codedeploy_deployment_group")
    assert len(groups) == len(alarms) == FUNCTIONS
    for group in groups.values():
        assert group["app_name"] == ref("aws_codedeploy_app", app_name, "name")
        assert group["deployment_config_name"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
        assert group["deployment_style"] == {
            "deployment_option": "WITH_TRAFFIC_CONTROL",
            "deployment_type": "BLUE_GREEN",
        }
        assert group["auto_rollback_configuration"] == {
            "enabled": True,
            "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
        }
        (alarm_ref,) = group["alarm_configuration"]["alarms"]
        alarm = alarms[alarm_ref.split(".")[1]]  # the group's own function's alarm
        assert alarm["alarm_name"].endswith(f"-{group['deployment_group_name']}-step-errors")
        assert group["alarm_configuration"]["enabled"] is True
    functions = {
        f["function_name"] for f in resources(default_stack, "aws_lambda_function").values()
    }
    for alarm in alarms.values():
        # monitoring's step errors: polls (StateNotReached) and retried throttles never roll back
        assert alarm["namespace"] == "healstack/healstack-ec2-status-check-recovery"
        assert alarm["metric_name"].startswith("StepErrors-")
        assert alarm["threshold"] == 0 and alarm["comparison_operator"] == "GreaterThanThreshold"
        assert alarm["treat_missing_data"] == "notBreaching"
    assert len(functions) == FUNCTIONS


def test_outputs_tell_where_to_upload_the_source(default_stack: dict[str, Any]) -> None:
    outputs = default_stack["output"]
    assert outputs["pipeline_name"]["value"].startswith("${aws_codepipeline.")
    name, _ = bucket(default_stack)
    assert outputs["pipeline_source"]["value"] == (
        f"s3://{ref('aws_s3_bucket', name, 'bucket')}/{SOURCE_KEY}"
    )


def test_resource_count_the_pipeline_adds(default_stack: dict[str, Any], tmp_path: Path) -> None:
    without = synth_with_settings(tmp_path / "off", DeploymentSettings(pipeline=False))

    def count(stack: dict[str, Any]) -> int:
        return sum(len(v) for v in stack["resource"].values())

    # key + alias, bucket + 7 bucket settings, log group, 3 builds, app, 6 groups, pipeline,
    # start rule + target, 6 roles + 6 policies (the live aliases exist either way; the
    # rollbacks use monitoring's alarms, which exist either way too); code signing: the
    # profile, the config, and per function its first zip's upload and signing job
    pipeline = 2 + 8 + 1 + 3 + 1 + 6 + 1 + 2 + 12
    assert count(default_stack) - count(without) == pipeline + 2 + 2 * FUNCTIONS
    assert not resources(without, "aws_lambda_code_signing_config")
    for function in resources(without, "aws_lambda_function").values():
        assert "code_signing_config_arn" not in function  # terraform is the only deployer
    assert len(resources(without, "aws_lambda_alias")) == FUNCTIONS
    assert not resources(without, "aws_codepipeline")
    for alias in resources(without, "aws_lambda_alias").values():
        assert "lifecycle" not in alias  # no pipeline: terraform moves the alias itself
    assert "pipeline_name" not in without["output"]


def repository_settings() -> DeploymentSettings:
    return DeploymentSettings(
        pipeline_source=PipelineSource(
            kind="repository",
            repository="acme/healstack",
            branch="release",
            connection="arn:aws:codeconnections:us-east-1:111122223333:connection/abc",
        ),
        pipeline_rollout=Rollout(style="linear", percent=20, interval_minutes=3),
    )


@pytest.fixture(scope="module")
def repository_stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("repo-source") / "cdktf.out"
    stack = synth_with_settings(out, repository_settings())
    return out, stack


def write_repository_variant(dest: Path, _synthesized: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cdktf.out"
        synth_with_settings(out, repository_settings())
        (stack_dir,) = (out / "stacks").iterdir()
        shutil.copytree(stack_dir, dest)


TO_VALIDATE["repository-source"] = write_repository_variant  # see tests/conftest.py


def test_repository_source_uses_the_connection_and_needs_no_upload_trigger(
    repository_stack: tuple[Path, dict[str, Any]],
) -> None:
    _, stack = repository_stack
    pipeline = one(stack, "aws_codepipeline")
    (source,) = pipeline["stage"][0]["action"]
    assert source["provider"] == "CodeStarSourceConnection"
    assert source["configuration"] == {
        "ConnectionArn": "arn:aws:codeconnections:us-east-1:111122223333:connection/abc",
        "FullRepositoryId": "acme/healstack",
        "BranchName": "release",
        "OutputArtifactFormat": "CODE_ZIP",
        "DetectChanges": "true",
    }
    use = [s for s in policy_of(stack, "pipeline") if "UseConnection" in s["Action"][0]]
    assert use == [
        {
            "Effect": "Allow",
            "Action": ["codeconnections:UseConnection", "codestar-connections:UseConnection"],
            "Resource": "arn:aws:codeconnections:us-east-1:111122223333:connection/abc",
        }
    ]
    assert not resources(stack, "aws_s3_bucket_notification")
    assert "pipeline_source" not in stack["output"]
    assert not [
        r for r in resources(stack, "aws_iam_role").values() if r["name"].endswith("-start")
    ]


def test_a_rollout_codedeploy_does_not_predefine_gets_its_own_config(
    repository_stack: tuple[Path, dict[str, Any]],
) -> None:
    _, stack = repository_stack
    config = one(stack, "aws_codedeploy_deployment_config")
    assert config["compute_platform"] == "Lambda"
    assert config["traffic_routing_config"] == {
        "type": "TimeBasedLinear",
        "time_based_linear": {"interval": 3, "percentage": 20},
    }
    for group in resources(stack, "aws_codedeploy_deployment_group").values():
        assert group["deployment_config_name"] == config["deployment_config_name"]
    _, project = named(stack, "aws_codebuild_project", "build-deploy")
    assert project["build_timeout"] == 5 * 3 + 20  # 20 % every 3 minutes, plus the margin


@pytest.mark.slow
def test_terraform_validate_accepts_the_repository_source_variant(validated: Validation) -> None:
    """``terraform init`` (offline) and ``validate`` accept it (validated in one terraform run
    with the suite's other configurations: see ``Validation``)."""
    assert validated.backend_file("repository-source") == "repository-source/cdk.tf.json"


def test_without_handed_alarms_the_pipeline_creates_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Monitoring hands its step-error alarms to the pipeline; a provider used without them
    (rollback_alarms None) still gets one error alarm per function's live alias."""
    import healstack.modules.recovery_workflow as rw
    from healstack.providers.interfaces import PipelineSpec

    def without_alarms(*args: Any, **kwargs: Any) -> PipelineSpec:
        return PipelineSpec(*args, **{**kwargs, "rollback_alarms": None})

    monkeypatch.setattr(rw, "PipelineSpec", without_alarms)
    stack = synth_with_settings(tmp_path / "out", DeploymentSettings())
    own = {
        name: a
        for name, a in resources(stack, "aws_cloudwatch_metric_alarm").items()
        if "pipeline_alarm" in name
    }
    assert len(own) == FUNCTIONS
    for alarm in own.values():
        assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/Lambda", "Errors")
        assert alarm["alarm_name"] == alarm["dimensions"]["FunctionName"] + "-live-errors"
    groups = resources(stack, "aws_codedeploy_deployment_group").values()
    for group in groups:
        (alarm_ref,) = group["alarm_configuration"]["alarms"]
        assert alarm_ref.split(".")[1] in own


def test_pipeline_names_fit_aws_limits_whenever_the_playbook_validates() -> None:
    """The pipeline's names are not checked separately: they must fit whenever the names the
    naming rules do check fit. Take the longest playbook name validation accepts."""
    from healstack.providers.aws.naming import AwsNamingRules

    settings = DeploymentSettings(stage="prod")
    rules = AwsNamingRules()
    keys = ["resolve-target", "check-status", "force-redeploy", "notify", "request-approval"]
    name = "x"
    while not rules.problems(name + "x", keys, settings):
        name += "x"
    base = settings.base_name(name)
    for role in ROLE_SUFFIXES:
        role_ = role_name(base, role)
        assert len(role_) <= IAM_ROLE.max_length and IAM_ROLE.pattern.match(role_), role_
    start_rule = f"{base}-source"  # the rule an upload starts the pipeline through
    assert len(start_rule) <= EVENT_RULE.max_length and EVENT_RULE.pattern.match(start_rule)


def test_pipeline_roles_use_no_star_resource(default_stack: dict[str, Any]) -> None:
    for role in ROLE_SUFFIXES:
        for statement in policy_of(default_stack, role):
            resources_ = (
                statement["Resource"]
                if isinstance(statement["Resource"], list)
                else [statement["Resource"]]
            )
            if "*" in resources_:
                actions = (
                    statement["Action"]
                    if isinstance(statement["Action"], list)
                    else [statement["Action"]]
                )
                assert all(a in STAR_RESOURCE_REASONS for a in actions), (role, actions)
            assert all("*" not in a for a in statement["Action"]), (role, statement["Action"])
