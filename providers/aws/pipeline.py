"""The functions' delivery pipeline on AWS: CodePipeline (V2) + CodeBuild + CodeDeploy.

    Source  an archive uploaded to the artifact bucket by a listed uploader (default; works
            in any account) or a GitHub repository through an authorised connection
    Test    CodeBuild: ruff, mypy and the handler tests from a hash-locked venv; read-only
    Package CodeBuild: ``healstack package`` (the zips synthesis embeds, byte for byte), then
            each zip signed by the recovery's Signer profile (``signing.py``)
    Deploy  CodeBuild: points each function at its signed zip, publishes a version and asks
            CodeDeploy to move the function's ``live`` alias to it (canary / linear / all at
            once), rolled back automatically when the alias's error alarm fires

What each build runs is Terraform's, not the archive's (review 2026-12, C1): every project's
buildspec is generated here and stored inline in the project. Deploy takes no source at all:
its script (``scripts/deploy_functions.py``) and its hash-locked requirements
(``requirements/pipeline-deploy.txt``, boto3 only) are inlined at synthesis, like the
Package stage's signing step (``scripts/sign_packages.py``). Test and Package run the
archive's own code (that is what they test and package) from hash-locked installs
(``requirements/pipeline-{test,package}.txt``), with roles that cannot deploy.

The state machine invokes the ``live`` aliases, so a workflow only ever runs a version that
was published whole. Security: one customer-managed key for the bucket, the pipeline, the
builds and their logs; TLS-only, versioned, private bucket whose old versions expire, whose
policy admits source uploads only from ``DeploymentSettings.pipeline_uploaders`` and objects
only under the pipeline key; each role (pipeline, test, package, deploy, CodeDeploy, the
start rule) holds only its own actions on its own resources; no build runs privileged.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from constructs import Construct

from healstack.errors import UsageError
from healstack.providers.aws import resources as aws
from healstack.providers.aws import signing
from healstack.providers.aws.alarms import function_error_alarm
from healstack.providers.aws.checkov import declare_skips
from healstack.providers.aws.provider import (
    LIVE_ALIAS,
    ROLE_PATH,
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
    PlatformCode,
    Rollout,
)

#: where the ``upload`` source archive goes in the artifact bucket (only uploaders write it)
SOURCE_PREFIX = "source/"
SOURCE_KEY = SOURCE_PREFIX + "repository.zip"
#: CodePipeline keeps a run's artifacts under the pipeline name's first 20 characters
ARTIFACT_PREFIX_LENGTH = 20
#: the repository files synthesis inlines into the buildspecs, and the lock files each build
#: installs from (Test and Package from the archive they test; Deploy's inlined)
REPOSITORY = Path(__file__).resolve().parents[2]
DEPLOY_SCRIPT = "scripts/deploy_functions.py"
SIGN_SCRIPT = "scripts/sign_packages.py"
LOCKS = {
    "test": "requirements/pipeline-test.txt",
    "package": "requirements/pipeline-package.txt",
    "deploy": "requirements/pipeline-deploy.txt",
}
#: where each build keeps what synthesis inlined and its own virtual environment (never the
#: archive's .venv); a path inside the CodeBuild container
BUILD_DIR = "/opt/healstack"
BUILD_VENV = f"{BUILD_DIR}/venv"
PIP_INSTALL = (
    f"{BUILD_VENV}/bin/python -m pip install --disable-pip-version-check --no-input"
    " --require-hashes --only-binary :all: --no-deps -r"
)
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
    "test": "-test",
    "build": "-build",  # the Package stage's: it builds and signs (its address predates Test's)
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
#: the Package build signs its zips with the recovery's profile (and nothing else may)
SIGN = ("signer:StartSigningJob",)
SIGN_STATUS = ("signer:DescribeSigningJob",)
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
#: an uploader's ARN: an IAM role, user or the account root (wildcards allowed)
UPLOADER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|\*):(root|role/\S+|user/\S+)$")


def role_name(base_name: str, role: str) -> str:
    return base_name + ROLE_SUFFIXES[role]


def bucket_prefix(base_name: str) -> str:
    """S3 allows a 37-character prefix (AWS appends a unique 26-character suffix)."""
    return base_name[:36] + "-"


def log_group_name(base_name: str) -> str:
    return f"/aws/codebuild/{base_name}"


def artifact_prefix(pipeline_name: str) -> str:
    """Where CodePipeline keeps this pipeline's artifacts in the bucket (and where the
    Package build signs): ``<first 20 characters of the name>/``."""
    return pipeline_name[:ARTIFACT_PREFIX_LENGTH] + "/"


def repository_text(relative: str) -> str:
    """A repository file synthesis inlines (a script, a lock file)."""
    path = REPOSITORY / relative
    if not path.is_file():
        raise UsageError(
            f"the pipeline inlines {relative}, which this installation does not have: "
            "synthesize from a checkout of the repository, or set pipeline=False"
        )
    return path.read_text(encoding="utf-8")


def terraform_literal(text: str) -> str:
    """``text`` as a Terraform string that means exactly ``text``: every string in the JSON
    configuration is a template, so ``${`` and ``%{`` are escaped (``$${``, ``%%{``)."""
    return text.replace("${", "$${").replace("%{", "%%{")


class _Literal(str):
    """A multi-line string the buildspec shows as a YAML literal block."""


class _BuildspecDumper(yaml.SafeDumper):
    pass


_BuildspecDumper.add_representer(
    _Literal, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", str(s), style="|")
)


def _write_file(path: str, text: str) -> _Literal:
    """A command that writes ``text`` to ``path`` byte for byte (a quoted heredoc expands
    nothing)."""
    marker = "HEALSTACK_INLINE_FILE"
    assert marker not in text and text.endswith("\n"), path
    return _Literal(f"cat > {path} <<'{marker}'\n{text}{marker}\n")


def buildspec(stage: str, platform: Sequence[PlatformCode] = ()) -> str:
    """The buildspec a stage's CodeBuild project runs, as Terraform stores it (inline).
    ``platform``: the recovery's platform steps, which the Package stage packages from the
    source too (each file by its path in the source). Made once per process for the same
    stage and steps (dumping the inlined scripts as YAML costs every stack ~10 ms)."""
    return _buildspec(stage, tuple(platform))


@cache
def _buildspec(stage: str, platform: tuple[PlatformCode, ...]) -> str:
    header = {
        "test": "Test: ruff, mypy and the handler tests of the uploaded source, from a "
        "hash-locked install; the role can only read the source",
        "package": "Package: healstack package, then every zip signed by the recovery's "
        "Signer profile (scripts/sign_packages.py, inlined)",
        "deploy": "Deploy: only the signed zips, by scripts/deploy_functions.py (inlined) "
        "from an inlined hash-locked boto3; no source input",
    }[stage]
    install = [f"mkdir -p {BUILD_DIR}", "python -m venv " + BUILD_VENV]
    build: list[str]
    spec: dict[str, Any] = {
        "version": 0.2,
        "env": {
            "shell": "bash",
            "variables": {"PIP_CONFIG_FILE": "/dev/null", "PYTHONDONTWRITEBYTECODE": "1"},
        },
        "phases": {"install": {"runtime-versions": {"python": "3.12"}, "commands": install}},
    }
    python = f"{BUILD_VENV}/bin/python"
    if stage == "test":
        install.append(f"{PIP_INSTALL} {LOCKS['test']}")
        spec["env"]["variables"]["PYTHONPATH"] = ".:lambda_src"
        build = [
            f"{BUILD_VENV}/bin/ruff check .",
            f"{BUILD_VENV}/bin/ruff format --check .",
            f"{BUILD_VENV}/bin/mypy",
            f"{python} -m pytest -p no:cacheprovider tests/handlers",
        ]
    elif stage == "package":
        install.append(f"{PIP_INSTALL} {LOCKS['package']}")
        spec["env"]["variables"]["PYTHONPATH"] = ".:lambda_src"
        steps = "".join(
            f" --platform-step {shlex.quote(f'{c.name}={c.source_path}:{c.function}')}"
            for c in sorted(platform, key=lambda c: c.name)
        )
        build = [
            f"{python} -m healstack.cli package --out dist{steps}",
            _write_file(f"{BUILD_DIR}/sign_packages.py", repository_text(SIGN_SCRIPT)),
            f"{python} -I {BUILD_DIR}/sign_packages.py --packages dist",
        ]
        spec["artifacts"] = {"base-directory": "dist", "files": ["**/*"]}
    else:
        lock = f"{BUILD_DIR}/pipeline-deploy.txt"
        install.insert(1, _write_file(lock, repository_text(LOCKS["deploy"])))
        install.append(f"{PIP_INSTALL} {lock}")
        build = [
            _write_file(f"{BUILD_DIR}/deploy_functions.py", repository_text(DEPLOY_SCRIPT)),
            f'{python} -I {BUILD_DIR}/deploy_functions.py --packages "$CODEBUILD_SRC_DIR"',
        ]
    spec["phases"]["build"] = {"commands": build}
    body = yaml.dump(spec, Dumper=_BuildspecDumper, sort_keys=False, width=10_000)
    return f"# healstack {header}\n# Generated by providers/aws/pipeline.py; do not edit.\n{body}"


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
        self.platform = list(shared.platform_code.values())
        for code in self.platform:
            if not code.source_path:
                raise UsageError(
                    f"platform step {code.name}: {code.file} is outside the working directory, "
                    "so the pipeline's source cannot carry it (synthesize from the repository "
                    "root that holds it)"
                )
        self.prefix = artifact_prefix(base_name)  # the pipeline's name is the base name
        self.uploaders = self._uploaders(settings.pipeline_uploaders)
        self.key = self._key()
        self.signing = signing.for_recovery(scope, base_name, settings)
        self.bucket = self._bucket()
        # Terraform signs each function's first code (signing.py): with Enforce, Lambda
        # refuses the plain asset
        self.signing.sign_initial_code(self, self.bucket, self.key.arn, self._bucket_ready)
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

    def _uploaders(self, given: tuple[str, ...]) -> list[str]:
        """Who may write the source archive: the account root, plus the named principals."""
        for arn in given:
            if not UPLOADER_ARN.match(arn):
                raise UsageError(
                    f'pipeline_uploaders: "{arn}" is not an IAM role, user or root ARN '
                    "(arn:aws:iam::ACCOUNT:role/NAME)"
                )
        root = self._arn("arn:{partition}:iam::{account}:root")
        return [root, *sorted(set(given))]

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
        # force_destroy: it holds only rebuildable build outputs and signed copies of code
        # the functions already run, and Signer writes objects Terraform does not track, so a
        # destroy must be able to empty it
        bucket = aws.S3Bucket(
            self, "artifacts", bucket_prefix=bucket_prefix(self.base), force_destroy=True
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
        versioning = aws.S3BucketVersioning(
            self,
            "artifacts-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
        )
        encryption = aws.S3BucketServerSideEncryptionConfiguration(
            self,
            "artifacts-encryption",
            bucket=bucket.id,
            rule=[
                aws.S3BucketServerSideEncryptionConfigurationRule(
                    apply_server_side_encryption_by_default=(
                        aws.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefault(
                            sse_algorithm="aws:kms", kms_master_key_id=self.key.arn
                        )
                    ),
                    bucket_key_enabled=True,
                )
            ],
        )
        bucket_policy = aws.S3BucketPolicy(
            self,
            "artifacts-policy",
            bucket=bucket.id,
            policy=policy(*self._bucket_statements(bucket.arn)),
        )
        self._bucket_ready = [versioning, encryption, bucket_policy]
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

    def _bucket_statements(self, bucket_arn: str) -> list[dict[str, Any]]:
        """TLS only; the source archive only from the uploaders; every object under the
        pipeline key (C1).

        Encryption is checked on the request's headers where it names any: ``AES256``,
        ``aws:kms:dsse``, ``aws:kms`` without a key (that is the AWS-managed ``aws/s3``) or
        with another key are refused. A request that names none gets the bucket default, the
        pipeline key, so a writer needs ``kms:GenerateDataKey`` on it either way; requiring
        the header on every request would also refuse multipart parts (which carry none) and
        the services' own writes (CodeBuild's artifacts, Signer's signed objects)."""
        key_arn = self.key.arn
        objects = f"{bucket_arn}/*"
        put = "s3:PutObject"
        return [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, objects],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenySourceUploadsByOthers",
                "Effect": "Deny",
                "Principal": "*",
                "Action": put,
                "Resource": f"{bucket_arn}/{SOURCE_PREFIX}*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": self.uploaders}},
            },
            {
                "Sid": "DenyEncryptionOtherThanKms",
                "Effect": "Deny",
                "Principal": "*",
                "Action": put,
                "Resource": objects,
                "Condition": {  # named, and not aws:kms
                    "Null": {"s3:x-amz-server-side-encryption": "false"},
                    "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                },
            },
            {
                "Sid": "DenyKmsKeysOtherThanPipelineKey",
                "Effect": "Deny",
                "Principal": "*",
                "Action": put,
                "Resource": objects,
                "Condition": {  # named, and not the pipeline key
                    "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
                    "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn},
                },
            },
            {
                "Sid": "DenyKmsWithoutPipelineKey",
                "Effect": "Deny",
                "Principal": "*",
                "Action": put,
                "Resource": objects,
                "Condition": {
                    "StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                    "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "true"},
                },
            },
        ]

    # -- roles ---------------------------------------------------------------------------

    def _role(
        self,
        id_: str,
        service: str,
        description: str,
        *statements: Any,
        source: str | None = None,
    ) -> Any:
        """A role only ``service`` may assume, for this account and, where the service sends
        it, only for ``source`` (an ARN template, ``aws:SourceArn``: review M3)."""
        role = aws.IamRole(
            self,
            f"{id_}-role",
            name=role_name(self.base, id_),
            path=ROLE_PATH,
            description=description,
            assume_role_policy=assume_role(
                service, self.acct.account, self._arn(source) if source else None
            ),
        )
        role_policy = aws.IamRolePolicy(
            self, f"{id_}-policy", name="least-privilege", role=role.id, policy=policy(*statements)
        )
        return role, role_policy

    def _artifacts(self, actions: tuple[str, ...], *prefixes: str) -> dict[str, Any]:
        """``actions`` on the bucket's objects under ``prefixes``."""
        resources = [f"{self.bucket.arn}/{prefix}*" for prefix in prefixes]
        return allow(list(actions), resources[0] if len(resources) == 1 else resources)

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
            every, percent = rollout.interval_minutes, rollout.percent
            routing = (
                aws.CodedeployDeploymentConfigTrafficRoutingConfig(
                    type="TimeBasedCanary",
                    time_based_canary=aws.CodedeployDeploymentConfigTrafficRoutingConfigTimeBasedCanary(
                        interval=every, percentage=percent
                    ),
                )
                if rollout.style == "canary"
                else aws.CodedeployDeploymentConfigTrafficRoutingConfig(
                    type="TimeBasedLinear",
                    time_based_linear=aws.CodedeployDeploymentConfigTrafficRoutingConfigTimeBasedLinear(
                        interval=every, percentage=percent
                    ),
                )
            )
            depends.append(
                aws.CodedeployDeploymentConfig(
                    self,
                    "rollout",
                    deployment_config_name=config_name,
                    compute_platform="Lambda",
                    traffic_routing_config=routing,
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
            source="arn:{partition}:codedeploy:{region}:{account}:deploymentgroup:"
            + self.base
            + "/*",
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
        """Three projects, three roles: Test reads its input and writes nothing; Package
        reads the source, writes its output and signs, all under the pipeline's prefix;
        Deploy reads the signed packages and ships them (C1)."""
        logs = allow(list(LOG_WRITE), f"{self.logs.arn}:*")
        source, packages = f"{self.prefix}source/", f"{self.prefix}packages/"
        unsigned, signed = f"{self.prefix}unsigned/", f"{self.prefix}signed/"
        test_role, test_policy = self._role(
            "test",
            "codebuild.amazonaws.com",
            "healstack test: read the source artifact, write logs; nothing else",
            logs,
            self._artifacts(ARTIFACT_READ, source),
            allow(list(KEY_READ), self.key.arn),
            source="arn:{partition}:codebuild:{region}:{account}:project/" + self.base + "-test",
        )
        package_role, package_policy = self._role(
            "build",
            "codebuild.amazonaws.com",
            "healstack package: read the source, write and sign this pipeline's packages",
            logs,
            self._artifacts(ARTIFACT_READ, source, unsigned),
            self._artifacts(ARTIFACT_WRITE, packages, unsigned, signed),
            allow([*KEY_READ, *KEY_WRITE], self.key.arn),
            allow(  # the ARN from the name: the profile's own arn attribute names no type
                list(SIGN),
                self._arn("arn:{partition}:signer:{region}:{account}:/signing-profiles/")
                + self.signing.profile.name,
            ),
            allow(
                list(SIGN_STATUS),
                self._arn("arn:{partition}:signer:{region}:{account}:/signing-jobs/*"),
            ),
            source="arn:{partition}:codebuild:{region}:{account}:project/" + self.base + "-package",
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
            "healstack deploy: ship this recovery's signed packages, start their rollouts",
            logs,
            self._artifacts(ARTIFACT_READ, packages, signed),
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
            source="arn:{partition}:codebuild:{region}:{account}:project/" + self.base + "-deploy",
        )
        targets = json.dumps(
            {
                "application": self.base,
                "alias": LIVE_ALIAS,
                "functions": {h.name: key for key, h in self.functions.items()},
            },
            sort_keys=True,
        )
        signing_variables = {  # what scripts/sign_packages.py reads
            "HEALSTACK_ARTIFACT_BUCKET": self.bucket.bucket,
            "HEALSTACK_SIGNING_PREFIX": self.prefix,
            "HEALSTACK_SIGNING_PROFILE": self.signing.profile.name,
            "HEALSTACK_PIPELINE_KEY": self.key.arn,
        }
        projects = {}
        for stage, role, role_policy, minutes, variables in (
            ("test", test_role, test_policy, 30, {}),
            ("package", package_role, package_policy, 20, signing_variables),
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
                description=f"healstack {stage}: buildspec generated by healstack (inline)",
                service_role=role.arn,
                build_timeout=minutes,
                queued_timeout=60,
                encryption_key=self.key.arn,
                # the buildspec itself, not a path into the uploaded archive (C1)
                source={
                    "type": "CODEPIPELINE",
                    "buildspec": terraform_literal(buildspec(stage, self.platform)),
                },
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
            self._artifacts(ARTIFACT_READ, SOURCE_PREFIX, self.prefix),
            self._artifacts(ARTIFACT_WRITE, self.prefix),
            allow(list(KEY_READ + KEY_WRITE), self.key.arn),
            allow(
                ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
                [p.arn for p in projects.values()],
            ),
            *source_statements,
            source="arn:{partition}:codepipeline:{region}:{account}:" + self.base,
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
            ("Deploy", build("deploy", "Build", ["packages"], [])),  # signed packages only
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
