"""The functions' delivery pipeline on AWS: CodePipeline (V2) + CodeBuild + CodeDeploy.

    Source  an archive uploaded to the artifact bucket (default; works in any account) or a
            GitHub repository through an authorised CodeStar/CodeConnections connection
    Test    CodeBuild: ``buildspecs/test.yml`` = ``./dev test tests/handlers`` (red stops it)
    Package CodeBuild: ``buildspecs/package.yml`` = ``./dev healstack package --out dist``
            (the zips synthesis embeds, byte for byte: ``providers/aws/packages.py``)
    Deploy  CodeBuild: ``buildspecs/deploy.yml`` uploads each zip, publishes a version and
            asks CodeDeploy to move the function's ``live`` alias to it (canary / linear /
            all at once), rolled back automatically when the alias's error alarm fires

The state machine invokes the ``live`` aliases, so a workflow only ever runs a version that
was published whole. Security: one customer-managed key for the bucket, the pipeline, the
builds and their logs; TLS-only, versioned, private bucket whose old versions expire; each
role (pipeline, build, deploy, CodeDeploy, the start rule) holds only its own actions on
its own resources; no build runs privileged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from constructs import Construct

from healstack.providers.aws import bindings as aws
from healstack.providers.aws.alarms import function_error_alarm
from healstack.providers.aws.checkov import declare_skips
from healstack.providers.aws.provider import (
    LIVE_ALIAS,
    _Recovery,
    allow,
    assume_role,
    customer_key,
    policy,
)
from healstack.providers.interfaces import (
    DeploymentSettings,
    FunctionHandle,
    PipelineHandle,
    PipelineSpec,
    Rollout,
)

#: where the ``upload`` source archive goes in the artifact bucket
SOURCE_KEY = "source/repository.zip"
#: the repository's own build definitions, the same commands a developer runs
BUILDSPECS = {
    "test": "buildspecs/test.yml",
    "package": "buildspecs/package.yml",
    "deploy": "buildspecs/deploy.yml",
}
#: a curated CodeBuild image with Python 3.12 (runtime-versions in the buildspecs)
BUILD_IMAGE = "aws/codebuild/standard:7.0"
BUILD_COMPUTE = "BUILD_GENERAL1_SMALL"
#: the deploy build's environment variable naming what to deploy where (JSON)
DEPLOY_TARGETS_VARIABLE = "HEALSTACK_DEPLOY_TARGETS"
#: minutes a build may take beyond its traffic shifting
BUILD_MARGIN_MINUTES = 20
NONCURRENT_VERSION_DAYS = 30
INCOMPLETE_UPLOAD_DAYS = 7

#: role name suffixes; each is shorter than the function roles' ``-<key>-fn``, whose
#: length the naming rules already check, so these always fit IAM's 64 characters
ROLE_SUFFIXES = {
    "pipeline": "-pipeline",
    "build": "-build",
    "deploy": "-deploy",
    "codedeploy": "-codedeploy",
    "start": "-pipeline-start",
}

#: CodeDeploy's predefined Lambda configurations; other rollouts get their own config
PREDEFINED_ROLLOUTS = {
    ("canary", 10, 5): "CodeDeployDefault.LambdaCanary10Percent5Minutes",
    ("canary", 10, 10): "CodeDeployDefault.LambdaCanary10Percent10Minutes",
    ("canary", 10, 15): "CodeDeployDefault.LambdaCanary10Percent15Minutes",
    ("canary", 10, 30): "CodeDeployDefault.LambdaCanary10Percent30Minutes",
    ("linear", 10, 1): "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
    ("linear", 10, 2): "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes",
    ("linear", 10, 3): "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes",
    ("linear", 10, 10): "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes",
}
ALL_AT_ONCE = "CodeDeployDefault.LambdaAllAtOnce"
CODEDEPLOY_DEFAULT = "CodeDeployDefault."

#: read what the pipeline stored; write what a stage produces
ARTIFACT_READ = ("s3:GetObject", "s3:GetObjectVersion")
ARTIFACT_WRITE = ("s3:PutObject",)
KEY_READ = ("kms:Decrypt", "kms:DescribeKey")
KEY_WRITE = ("kms:GenerateDataKey",)
LOG_WRITE = ("logs:CreateLogStream", "logs:PutLogEvents")
#: the actions CodeDeploy itself needs to shift a Lambda alias (AWSCodeDeployRoleForLambda,
#: minus hooks and SNS triggers, which healstack does not use)
CODEDEPLOY_SHIFT = (
    "lambda:GetAlias",
    "lambda:GetProvisionedConcurrencyConfig",
    "lambda:UpdateAlias",
)
DEPLOY_CODE = (
    "lambda:GetAlias",
    "lambda:GetFunctionConfiguration",
    "lambda:PublishVersion",
    "lambda:UpdateFunctionCode",
)


def role_name(base_name: str, role: str) -> str:
    return base_name + ROLE_SUFFIXES[role]


def bucket_prefix(base_name: str) -> str:
    """S3 allows a 37-character prefix (AWS appends a unique 26-character suffix)."""
    return base_name[:36] + "-"


def log_group_name(base_name: str) -> str:
    return f"/aws/codebuild/{base_name}"


def deployment_config_name(base_name: str, rollout: Rollout) -> str:
    """A predefined CodeDeploy configuration when one matches, else this stack's own."""
    if rollout.style == "all_at_once":
        return ALL_AT_ONCE
    predefined = PREDEFINED_ROLLOUTS.get((rollout.style, rollout.percent, rollout.interval_minutes))
    if predefined:
        return predefined
    return f"{base_name}-{rollout.style}-{rollout.percent}pct-{rollout.interval_minutes}min"


def shift_minutes(rollout: Rollout) -> int:
    """How long CodeDeploy takes to move all traffic, at most."""
    if rollout.style == "all_at_once":
        return 0
    if rollout.style == "canary":
        return rollout.interval_minutes
    return math.ceil(100 / rollout.percent) * rollout.interval_minutes


def build_pipeline(
    scope: Construct,
    spec: PipelineSpec,
    base_name: str,
    functions: Mapping[str, FunctionHandle],
    settings: DeploymentSettings,
    shared: _Recovery,
) -> PipelineHandle:
    return _Pipeline(scope, spec, base_name, functions, settings, shared).handle


class _Pipeline(Construct):
    def __init__(
        self,
        scope: Construct,
        spec: PipelineSpec,
        base_name: str,
        functions: Mapping[str, FunctionHandle],
        settings: DeploymentSettings,
        shared: _Recovery,
    ) -> None:
        super().__init__(scope, "pipeline")
        self.base = base_name
        self.acct = shared.account
        self.functions = dict(sorted(functions.items()))
        self.key = self._key()
        self.bucket = self._bucket()
        self.logs = aws.CloudwatchLogGroup(
            self,
            "build-logs",
            name=log_group_name(base_name),
            retention_in_days=settings.log_retention_days,
            kms_key_id=self.key.arn,
        )
        deploy = self._codedeploy(spec.rollout, spec.rollback_alarms)
        projects = self._builds(spec.rollout, deploy)
        pipeline = self._pipeline(spec, projects)
        location = None
        if spec.source.kind == "upload":
            self._start_on_upload(pipeline, shared, settings)
            location = f"s3://{self.bucket.bucket}/{SOURCE_KEY}"
        self.handle = PipelineHandle(spec.key, pipeline.name, pipeline.arn, location, pipeline)

    # -- storage -------------------------------------------------------------------------

    def _key(self) -> Any:
        return customer_key(
            self,
            self.acct,
            description=f"healstack {self.base}: pipeline artifacts, builds and their logs",
            alias=f"alias/{self.base}-pipeline",
            log_groups={
                "ArnEquals": self.acct.arn(
                    "arn:{partition}:logs:{region}:{account}:log-group:" + log_group_name(self.base)
                )
            },
            sid="CloudWatchLogsEncryptsBuildLogs",
        )

    def _bucket(self) -> Any:
        bucket = aws.S3Bucket(
            self, "artifacts", bucket_prefix=bucket_prefix(self.base), force_destroy=False
        )
        declare_skips(bucket, "CKV_AWS_18", "CKV_AWS_144")
        aws.S3BucketOwnershipControls(
            self,
            "artifacts-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},  # no ACLs at all
        )
        aws.S3BucketPublicAccessBlock(
            self,
            "artifacts-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        versioning = aws.S3BucketVersioningA(
            self,
            "artifacts-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
        )
        aws.S3BucketServerSideEncryptionConfigurationA(
            self,
            "artifacts-encryption",
            bucket=bucket.id,
            rule=[
                aws.S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=(
                        aws.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                            sse_algorithm="aws:kms", kms_master_key_id=self.key.arn
                        )
                    ),
                    bucket_key_enabled=True,
                )
            ],
        )
        aws.S3BucketPolicy(
            self,
            "artifacts-policy",
            bucket=bucket.id,
            policy=policy(
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket.arn, f"{bucket.arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ),
        )
        aws.S3BucketLifecycleConfiguration(
            self,
            "artifacts-lifecycle",
            bucket=bucket.id,
            rule=[
                aws.S3BucketLifecycleConfigurationRule(
                    id="expire-old-artifacts",
                    status="Enabled",
                    filter=[aws.S3BucketLifecycleConfigurationRuleFilter()],  # every object
                    noncurrent_version_expiration=[
                        aws.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                            noncurrent_days=NONCURRENT_VERSION_DAYS
                        )
                    ],
                    abort_incomplete_multipart_upload=[
                        aws.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                            days_after_initiation=INCOMPLETE_UPLOAD_DAYS
                        )
                    ],
                    expiration=[
                        aws.S3BucketLifecycleConfigurationRuleExpiration(
                            expired_object_delete_marker=True
                        )
                    ],
                )
            ],
            depends_on=[versioning],
        )
        return bucket

    # -- roles ---------------------------------------------------------------------------

    def _role(self, id_: str, service: str, description: str, *statements: Any) -> Any:
        role = aws.IamRole(
            self,
            f"{id_}-role",
            name=role_name(self.base, id_),
            description=description,
            assume_role_policy=assume_role(service, self.acct.account),
        )
        role_policy = aws.IamRolePolicy(
            self, f"{id_}-policy", name="least-privilege", role=role.id, policy=policy(*statements)
        )
        return role, role_policy

    def _artifacts(self, *actions: str) -> dict[str, Any]:
        return allow(list(actions), f"{self.bucket.arn}/*")

    def _function_arns(self) -> list[str]:
        """Each function and its qualified forms (versions, the alias)."""
        arns = [handle.resource.arn for handle in self.functions.values()]
        return [*arns, *(f"{a}:*" for a in arns)]

    def _arn(self, template: str) -> str:
        return self.acct.arn(template)

    # -- CodeDeploy ----------------------------------------------------------------------

    def _codedeploy(
        self, rollout: Rollout, given_alarms: Mapping[str, str] | None
    ) -> dict[str, Any]:
        app = aws.CodedeployApp(self, "codedeploy-app", name=self.base, compute_platform="Lambda")
        config_name = deployment_config_name(self.base, rollout)
        depends: list[Any] = []
        if not config_name.startswith(CODEDEPLOY_DEFAULT):  # this stack's own rollout
            kind = "TimeBasedCanary" if rollout.style == "canary" else "TimeBasedLinear"
            block = "time_based_canary" if rollout.style == "canary" else "time_based_linear"
            depends.append(
                aws.CodedeployDeploymentConfig(
                    self,
                    "rollout",
                    deployment_config_name=config_name,
                    compute_platform="Lambda",
                    traffic_routing_config={
                        "type": kind,
                        block: {
                            "interval": rollout.interval_minutes,
                            "percentage": rollout.percent,
                        },
                    },
                )
            )
        if given_alarms is not None:  # e.g. monitoring's, which know the expected errors
            alarm_names = {key: given_alarms[key] for key in self.functions}
        else:
            alarm_names = {
                key: function_error_alarm(self, f"alarm-{key}", h.name, LIVE_ALIAS).alarm_name
                for key, h in self.functions.items()
            }
        alarm_arns = [
            self._arn("arn:{partition}:cloudwatch:{region}:{account}:alarm:") + name
            for name in alarm_names.values()
        ]
        role, role_policy = self._role(
            "codedeploy",
            "codedeploy.amazonaws.com",
            "healstack CodeDeploy: shift this recovery's live aliases, read their alarms",
            allow(list(CODEDEPLOY_SHIFT), self._function_arns()),
            allow(["cloudwatch:DescribeAlarms"], alarm_arns),
        )
        groups = {}
        for key in self.functions:
            group = aws.CodedeployDeploymentGroup(
                self,
                f"group-{key}",
                app_name=app.name,
                deployment_group_name=key,
                service_role_arn=role.arn,
                deployment_config_name=config_name,
                deployment_style={
                    "deployment_option": "WITH_TRAFFIC_CONTROL",
                    "deployment_type": "BLUE_GREEN",
                },
                auto_rollback_configuration={
                    "enabled": True,
                    "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
                },
                alarm_configuration={"enabled": True, "alarms": [alarm_names[key]]},
                depends_on=[role_policy, *depends],
            )
            groups[key] = group
        return {"app": app, "groups": groups, "config": config_name}

    # -- CodeBuild -----------------------------------------------------------------------

    def _builds(self, rollout: Rollout, deploy: Mapping[str, Any]) -> dict[str, Any]:
        logs = allow(list(LOG_WRITE), f"{self.logs.arn}:*")
        build_role, build_policy = self._role(
            "build",
            "codebuild.amazonaws.com",
            "healstack builds: read the source, write packages and logs",
            logs,
            self._artifacts(*ARTIFACT_READ, *ARTIFACT_WRITE),
            allow([*KEY_READ, *KEY_WRITE], self.key.arn),
        )
        groups = [
            self._arn(
                f"arn:{{partition}}:codedeploy:{{region}}:{{account}}:deploymentgroup:{self.base}/{key}"
            )
            for key in self.functions
        ]
        deploy_role, deploy_policy = self._role(
            "deploy",
            "codebuild.amazonaws.com",
            "healstack deploy: publish this recovery's function versions, start their rollouts",
            logs,
            self._artifacts(*ARTIFACT_READ),
            allow(list(KEY_READ), self.key.arn),
            allow(list(DEPLOY_CODE), self._function_arns()),
            allow(["codedeploy:CreateDeployment", "codedeploy:GetDeployment"], groups),
            allow(
                ["codedeploy:GetApplicationRevision", "codedeploy:RegisterApplicationRevision"],
                self._arn(
                    f"arn:{{partition}}:codedeploy:{{region}}:{{account}}:application:{self.base}"
                ),
            ),
            allow(
                ["codedeploy:GetDeploymentConfig"],
                self._arn(
                    "arn:{partition}:codedeploy:{region}:{account}:deploymentconfig:"
                    + deploy["config"]
                ),
            ),
        )
        targets = json.dumps(
            {
                "application": self.base,
                "alias": LIVE_ALIAS,
                "functions": {h.name: key for key, h in self.functions.items()},
            },
            sort_keys=True,
        )
        projects = {}
        for stage, role, role_policy, minutes, variables in (
            ("test", build_role, build_policy, 30, {}),
            ("package", build_role, build_policy, 15, {}),
            (
                "deploy",
                deploy_role,
                deploy_policy,
                shift_minutes(rollout) + BUILD_MARGIN_MINUTES,
                {DEPLOY_TARGETS_VARIABLE: targets},
            ),
        ):
            projects[stage] = aws.CodebuildProject(
                self,
                f"build-{stage}",
                name=f"{self.base}-{stage}",
                description=f"healstack {stage}: {BUILDSPECS[stage]}",
                service_role=role.arn,
                build_timeout=minutes,
                queued_timeout=60,
                encryption_key=self.key.arn,
                source={"type": "CODEPIPELINE", "buildspec": BUILDSPECS[stage]},
                artifacts={"type": "CODEPIPELINE"},
                environment={
                    "type": "LINUX_CONTAINER",
                    "compute_type": BUILD_COMPUTE,
                    "image": BUILD_IMAGE,
                    "image_pull_credentials_type": "CODEBUILD",
                    "privileged_mode": False,
                    "environment_variable": [
                        aws.CodebuildProjectEnvironmentEnvironmentVariable(
                            name=name, value=value, type="PLAINTEXT"
                        )
                        for name, value in sorted(variables.items())
                    ],
                },
                logs_config={
                    "cloudwatch_logs": {
                        "status": "ENABLED",
                        "group_name": self.logs.name,
                        "stream_name": stage,
                    },
                    "s3_logs": {"status": "DISABLED"},
                },
                depends_on=[role_policy],
            )
        return projects

    # -- CodePipeline --------------------------------------------------------------------

    def _source_action(self, spec: PipelineSpec) -> tuple[Any, list[dict[str, Any]]]:
        """The Source action and what the pipeline role needs for it."""
        source = spec.source
        if source.kind == "repository":
            assert source.connection is not None and source.repository is not None
            action = _action(
                "Source",
                "Source",
                "CodeStarSourceConnection",
                outputs=["source"],
                configuration={
                    "ConnectionArn": source.connection,
                    "FullRepositoryId": source.repository,
                    "BranchName": source.branch,
                    "OutputArtifactFormat": "CODE_ZIP",
                    "DetectChanges": "true",
                },
            )
            use = allow(
                ["codeconnections:UseConnection", "codestar-connections:UseConnection"],
                source.connection,
            )
            return action, [use]
        action = _action(
            "Source",
            "Source",
            "S3",
            outputs=["source"],
            configuration={
                "S3Bucket": self.bucket.bucket,
                "S3ObjectKey": SOURCE_KEY,
                "PollForSourceChanges": "false",  # the upload event starts it
            },
        )
        return action, [allow(["s3:GetBucketVersioning"], self.bucket.arn)]

    def _pipeline(self, spec: PipelineSpec, projects: Mapping[str, Any]) -> Any:
        source_action, source_statements = self._source_action(spec)
        role, role_policy = self._role(
            "pipeline",
            "codepipeline.amazonaws.com",
            "healstack pipeline: move artifacts, run this recovery's builds",
            self._artifacts(*ARTIFACT_READ, *ARTIFACT_WRITE),
            allow(list(KEY_READ + KEY_WRITE), self.key.arn),
            allow(
                ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
                [p.arn for p in projects.values()],
            ),
            *source_statements,
        )

        def build(stage: str, category: str, inputs: list[str], outputs: list[str]) -> Any:
            configuration = {"ProjectName": projects[stage].name}
            if len(inputs) > 1:
                configuration["PrimarySource"] = inputs[0]
            return _action(
                stage.capitalize(),
                category,
                "CodeBuild",
                inputs=inputs,
                outputs=outputs,
                configuration=configuration,
            )

        stages = [
            ("Source", source_action),
            ("Test", build("test", "Test", ["source"], [])),
            ("Package", build("package", "Build", ["source"], ["packages"])),
            ("Deploy", build("deploy", "Build", ["source", "packages"], [])),
        ]
        return aws.Codepipeline(
            self,
            "pipeline",
            name=self.base,
            pipeline_type="V2",
            execution_mode="QUEUED",  # one rollout at a time, in order
            role_arn=role.arn,
            artifact_store=[
                aws.CodepipelineArtifactStore(
                    location=self.bucket.bucket,
                    type="S3",
                    encryption_key=aws.CodepipelineArtifactStoreEncryptionKey(
                        id=self.key.arn, type="KMS"
                    ),
                )
            ],
            stage=[aws.CodepipelineStage(name=name, action=[a]) for name, a in stages],
            depends_on=[role_policy],
        )

    def _start_on_upload(
        self, pipeline: Any, shared: _Recovery, settings: DeploymentSettings
    ) -> None:
        """An upload of the source archive starts the pipeline (S3 -> EventBridge)."""
        aws.S3BucketNotification(self, "artifacts-events", bucket=self.bucket.id, eventbridge=True)
        rule = aws.CloudwatchEventRule(
            self,
            "source-uploaded",
            name=f"{self.base}-source",
            description="healstack: a new source archive starts the function pipeline",
            event_pattern=json.dumps(
                {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {
                        "bucket": {"name": [self.bucket.bucket]},
                        "object": {"key": [SOURCE_KEY]},
                    },
                },
                indent=2,
            ),
            state="ENABLED",
        )
        role, _ = self._role(
            "start",
            "events.amazonaws.com",
            "healstack: start this recovery's pipeline on a source upload",
            allow(["codepipeline:StartPipelineExecution"], pipeline.arn),
        )
        shared.event_target(self, "start-pipeline", rule, pipeline.arn, settings, role.arn)


def _action(
    name: str,
    category: str,
    provider: str,
    *,
    configuration: Mapping[str, str],
    inputs: list[str] | None = None,
    outputs: list[str] | None = None,
) -> Any:
    """A pipeline action (a binding struct: plain dicts in lists lose multi-word keys)."""
    return aws.CodepipelineStageAction(
        name=name,
        category=category,
        owner="AWS",
        provider=provider,
        version="1",
        configuration=dict(configuration),
        input_artifacts=inputs or None,
        output_artifacts=outputs or None,
    )
