"""Review 2026-12, C1: the uploaded source is no longer a code-execution path into the
recovery's functions. Each test fails without one part of the fix: inline buildspecs, code
signing (Enforce), who may upload and how it is encrypted, split roles, hash-locked installs.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from healstack.errors import UsageError
from healstack.providers.aws import pipeline, signing
from healstack.providers.interfaces import DeploymentSettings
from tests.conftest import REPO
from tests.pipeline.helpers import named, one, policy_of, ref, resources, synth_with_settings

STAGES = ("test", "package", "deploy")
TEST_TOOLS = ("pytest", "moto", "ruff", "mypy", "checkov", "statelint", "parliament")
HEREDOC = re.compile(r"^cat > (\S+) <<'(\w+)'\n(.*)\2\n$", re.DOTALL)


def project(stack: dict[str, Any], stage: str) -> dict[str, Any]:
    _, found = named(stack, "aws_codebuild_project", f"build-{stage}")
    return found


def spec_of(stack: dict[str, Any], stage: str) -> dict[str, Any]:
    """The buildspec Terraform stores in the project, as CodeBuild reads it."""
    text = project(stack, stage)["source"]["buildspec"]
    text = text.replace("$${", "${").replace("%%{", "%{")  # Terraform's template escapes
    spec = yaml.safe_load(text)
    assert isinstance(spec, dict), stage
    return spec


def commands(spec: dict[str, Any]) -> list[str]:
    return [c for phase in spec["phases"].values() for c in phase.get("commands", [])]


def inlined_files(spec: dict[str, Any]) -> dict[str, str]:
    """path -> content of each file the buildspec writes itself (quoted heredocs)."""
    found = {}
    for command in commands(spec):
        match = HEREDOC.match(command)
        if match:
            found[match.group(1)] = match.group(3)
    return found


# -- what each build runs is Terraform's ------------------------------------------------------


def test_every_buildspec_is_inline_yaml_not_a_path_into_the_archive(
    default_stack: dict[str, Any],
) -> None:
    for stage in STAGES:
        text = project(default_stack, stage)["source"]["buildspec"]
        assert "\n" in text and not text.strip().endswith((".yml", ".yaml")), stage
        assert "buildspecs/" not in text, stage
        spec = spec_of(default_stack, stage)
        assert spec["version"] == 0.2
        assert spec["phases"]["build"]["commands"], stage
        assert not any("./dev" in c for c in commands(spec)), stage  # no pip install -e .[test]


def test_deploy_reads_nothing_from_the_archive(default_stack: dict[str, Any]) -> None:
    pipe = one(default_stack, "aws_codepipeline")
    (deploy,) = next(s["action"] for s in pipe["stage"] if s["name"] == "Deploy")
    assert deploy["input_artifacts"] == ["packages"]  # never the uploaded source
    spec = spec_of(default_stack, "deploy")
    inlined = inlined_files(spec)
    assert inlined == {
        "/opt/healstack/pipeline-deploy.txt": (REPO / pipeline.LOCKS["deploy"]).read_text(),
        "/opt/healstack/deploy_functions.py": (REPO / pipeline.DEPLOY_SCRIPT).read_text(),
    }
    for command in commands(spec):
        if command.startswith("cat > "):
            continue
        for arg in shlex.split(command):
            # only the files it wrote itself, its venv, and the Package stage's output
            assert not re.match(r"^(\./|scripts/|requirements/|buildspecs/|\.venv)", arg), arg


def test_the_package_build_signs_with_the_inlined_script(default_stack: dict[str, Any]) -> None:
    inlined = inlined_files(spec_of(default_stack, "package"))
    assert inlined == {"/opt/healstack/sign_packages.py": (REPO / pipeline.SIGN_SCRIPT).read_text()}
    variables = {
        v["name"]: v["value"]
        for v in project(default_stack, "package")["environment"]["environment_variable"]
    }
    profile, _ = named(default_stack, "aws_signer_signing_profile", "signing_profile")
    assert variables["HEALSTACK_SIGNING_PROFILE"] == ref(
        "aws_signer_signing_profile", profile, "name"
    )
    assert variables["HEALSTACK_SIGNING_PREFIX"] == "healstack-ec2-status/"  # 20 characters


# -- code signing -------------------------------------------------------------------------------


def test_every_function_enforces_code_signed_by_the_recoverys_profile(
    default_stack: dict[str, Any],
) -> None:
    profile_name, profile = named(default_stack, "aws_signer_signing_profile", "signing_profile")
    assert profile["platform_id"] == "AWSLambda-SHA384-ECDSA"
    assert re.fullmatch(r"[A-Za-z0-9_]{1,38}", profile["name_prefix"])
    config_name, config = named(default_stack, "aws_lambda_code_signing_config", "signing")
    assert config["policies"] == {"untrusted_artifact_on_deployment": "Enforce"}
    assert config["allowed_publishers"] == {
        "signing_profile_version_arns": [
            ref("aws_signer_signing_profile", profile_name, "version_arn")
        ]
    }
    functions = resources(default_stack, "aws_lambda_function")
    assert len(functions) == 6
    for fn in functions.values():
        assert fn["code_signing_config_arn"] == ref(
            "aws_lambda_code_signing_config", config_name, "arn"
        )


def test_terraform_deploys_only_its_signed_copy_of_each_first_zip(
    default_stack: dict[str, Any],
) -> None:
    """With Enforce, CreateFunction of the plain asset fails on AWS: each function's code is
    the signed object of a signing job over the asset uploaded to the artifact bucket."""
    bucket_name, _ = named(default_stack, "aws_s3_bucket", "pipeline_artifacts")
    bucket_id = ref("aws_s3_bucket", bucket_name, "id")
    jobs = resources(default_stack, "aws_signer_signing_job")
    uploads = resources(default_stack, "aws_s3_object")
    profile_name, _ = named(default_stack, "aws_signer_signing_profile", "signing_profile")
    key_name, _ = named(default_stack, "aws_kms_key", "pipeline_key")
    for fn in resources(default_stack, "aws_lambda_function").values():
        assert "filename" not in fn and "source_code_hash" not in fn
        job_name = fn["s3_key"].split(".")[1]
        assert fn["s3_key"] == f"${{aws_signer_signing_job.{job_name}.signed_object[0].s3[0].key}}"
        assert fn["s3_bucket"] == (
            f"${{aws_signer_signing_job.{job_name}.signed_object[0].s3[0].bucket}}"
        )
        job = jobs[job_name]
        assert job["profile_name"] == ref("aws_signer_signing_profile", profile_name, "name")
        assert job["destination"] == {
            "s3": {"bucket": bucket_id, "prefix": signing.INITIAL_SIGNED_PREFIX}
        }
        upload_name = job["source"]["s3"]["key"].split(".")[1]
        assert job["source"]["s3"]["version"] == ref("aws_s3_object", upload_name, "version_id")
        upload = uploads[upload_name]
        assert upload["bucket"] == bucket_id
        assert upload["key"] == f"{signing.INITIAL_PREFIX}{fn['function_name']}.zip"
        assert upload["source"].startswith("assets/")
        assert upload["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
        assert upload["server_side_encryption"] == "aws:kms"


# -- who may upload, and how --------------------------------------------------------------------


def _matches(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, str]) -> bool:
    """The IAM condition operators the bucket policy uses, nothing more."""
    values = expected if isinstance(expected, list) else [expected]
    present = key in context
    value = context.get(key, "")
    if operator == "Null":
        return (not present) == (str(expected).lower() == "true")
    if operator == "Bool":
        return present and value.lower() == str(expected).lower()
    if operator.endswith("IfExists") and not present:
        return True
    base = operator.removesuffix("IfExists")
    if base == "StringEquals":
        return present and value in values
    if base == "StringNotEquals":
        return not present or value not in values
    if base == "ArnNotLike":
        return not present or not any(_matches(v, value) for v in values)
    raise AssertionError(f"the evaluator does not know {operator}")


def denied_by(
    statements: list[dict[str, Any]], action: str, resource: str, **context: str
) -> list[str]:
    """The Sids of the Deny statements that refuse this request (a bucket policy's explicit
    denies; what identity policies allow is another matter)."""
    context = {"aws:SecureTransport": "true", **context}
    found = []
    for statement in statements:
        assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        patterns = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if not any(_matches(a, action) for a in actions):
            continue
        if not any(_matches(p, resource) for p in patterns):
            continue
        conditions = statement.get("Condition", {})
        if all(
            _condition_holds(operator, key, expected, context)
            for operator, block in conditions.items()
            for key, expected in block.items()
        ):
            found.append(statement["Sid"])
    return found


@pytest.fixture(scope="module")
def listed_stack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = DeploymentSettings(
        pipeline_uploaders=("arn:aws:iam::111122223333:role/deployer", "arn:aws:iam::*:role/ci-*")
    )
    return synth_with_settings(tmp_path_factory.mktemp("uploaders") / "cdktf.out", settings)


def bucket_policy(stack: dict[str, Any]) -> tuple[list[dict[str, Any]], str, str, str]:
    """(statements, bucket ARN, pipeline key ARN, account root ARN), as the policy writes them."""
    statements = json.loads(one(stack, "aws_s3_bucket_policy")["policy"])["Statement"]
    bucket_name, _ = named(stack, "aws_s3_bucket", "pipeline_artifacts")
    key_name, _ = named(stack, "aws_kms_key", "pipeline_key")
    (upload,) = [s for s in statements if s["Sid"] == "DenySourceUploadsByOthers"]
    root = upload["Condition"]["ArnNotLike"]["aws:PrincipalArn"][0]
    assert root.endswith(":root")
    return (
        statements,
        ref("aws_s3_bucket", bucket_name, "arn"),
        ref("aws_kms_key", key_name, "arn"),
        root,
    )


def test_only_listed_uploaders_and_the_root_may_write_the_source(
    default_stack: dict[str, Any], listed_stack: dict[str, Any]
) -> None:
    put = "s3:PutObject"
    statements, bucket, key, root = bucket_policy(default_stack)
    source = f"{bucket}/{pipeline.SOURCE_KEY}"
    kms = {
        "s3:x-amz-server-side-encryption": "aws:kms",
        "s3:x-amz-server-side-encryption-aws-kms-key-id": key,
    }
    someone = "arn:aws:iam::111122223333:role/anyone-with-s3-put"
    # default: nobody named, only the account root
    assert denied_by(statements, put, source, **{"aws:PrincipalArn": someone}, **kms) == [
        "DenySourceUploadsByOthers"
    ]
    assert denied_by(statements, put, source, **{"aws:PrincipalArn": root}, **kms) == []
    # named uploaders (wildcards allowed), and still nobody else
    statements, bucket, key, root = bucket_policy(listed_stack)
    source = f"{bucket}/{pipeline.SOURCE_KEY}"
    kms["s3:x-amz-server-side-encryption-aws-kms-key-id"] = key
    for principal in (
        "arn:aws:iam::111122223333:role/deployer",
        "arn:aws:iam::444455556666:role/ci-main",
    ):
        assert denied_by(statements, put, source, **{"aws:PrincipalArn": principal}, **kms) == []
    assert denied_by(statements, put, source, **{"aws:PrincipalArn": someone}, **kms) == [
        "DenySourceUploadsByOthers"
    ]
    # the upload rule is about the source only; the pipeline's own artifacts are the roles'
    artifact = f"{bucket}/healstack-ec2-status/packages/x"
    assert denied_by(statements, put, artifact, **{"aws:PrincipalArn": someone}, **kms) == []


def test_every_object_is_encrypted_with_the_pipeline_key(default_stack: dict[str, Any]) -> None:
    put = "s3:PutObject"
    statements, bucket, key, root = bucket_policy(default_stack)
    source = f"{bucket}/{pipeline.SOURCE_KEY}"
    principal = {"aws:PrincipalArn": root}
    sse, kms_key = (
        "s3:x-amz-server-side-encryption",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    )
    other_key = "arn:aws:kms:us-east-1:111122223333:key/attacker"
    # the review's bypass: AES256 overrides the bucket's KMS default and needs no key rights
    assert "DenyEncryptionOtherThanKms" in denied_by(
        statements, put, source, **principal, **{sse: "AES256"}
    )
    assert "DenyEncryptionOtherThanKms" in denied_by(
        statements, put, source, **principal, **{sse: "aws:kms:dsse", kms_key: key}
    )
    assert denied_by(
        statements, put, source, **principal, **{sse: "aws:kms", kms_key: other_key}
    ) == ["DenyKmsKeysOtherThanPipelineKey"]
    # aws:kms without a key is the AWS-managed aws/s3 key
    assert denied_by(statements, put, source, **principal, **{sse: "aws:kms"}) == [
        "DenyKmsWithoutPipelineKey"
    ]
    # the pipeline key, or no header at all (the bucket default: the pipeline key)
    assert denied_by(statements, put, source, **principal, **{sse: "aws:kms", kms_key: key}) == []
    assert denied_by(statements, put, source, **principal) == []
    # and never over plain HTTP
    assert denied_by(statements, "s3:GetObject", source, **{"aws:SecureTransport": "false"}) == [
        "DenyInsecureTransport"
    ]


def test_an_uploader_that_is_not_an_iam_principal_arn_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="pipeline_uploaders"):
        synth_with_settings(tmp_path, DeploymentSettings(pipeline_uploaders=("deployer",)))


# -- split roles --------------------------------------------------------------------------------


def actions_on(statements: list[dict[str, Any]], prefix: str) -> dict[str, list[str]]:
    """action -> the resources it is allowed on, for actions starting with ``prefix``."""
    out: dict[str, list[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        found = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        for action in actions:
            if action.startswith(prefix):
                out.setdefault(action, []).extend(found)
    return out


def test_the_test_role_only_reads_its_input(default_stack: dict[str, Any]) -> None:
    bucket_name, _ = named(default_stack, "aws_s3_bucket", "pipeline_artifacts")
    arn = ref("aws_s3_bucket", bucket_name, "arn")
    statements = policy_of(default_stack, "test")
    s3 = actions_on(statements, "s3:")
    assert "s3:PutObject" not in s3
    assert s3 == {
        "s3:GetObject": [f"{arn}/healstack-ec2-status/source/*"],
        "s3:GetObjectVersion": [f"{arn}/healstack-ec2-status/source/*"],
    }
    assert set(actions_on(statements, "kms:")) == {"kms:Decrypt", "kms:DescribeKey"}
    assert not actions_on(statements, "lambda:") and not actions_on(statements, "signer:")


def test_only_the_package_role_writes_and_signs_and_only_under_the_pipeline_prefix(
    default_stack: dict[str, Any],
) -> None:
    bucket_name, _ = named(default_stack, "aws_s3_bucket", "pipeline_artifacts")
    arn = ref("aws_s3_bucket", bucket_name, "arn")
    package = policy_of(default_stack, "build")  # the Package stage's role
    writes = actions_on(package, "s3:PutObject")["s3:PutObject"]
    assert writes and all(w.startswith(f"{arn}/healstack-ec2-status/") for w in writes)
    profile_name, _ = named(default_stack, "aws_signer_signing_profile", "signing_profile")
    (signs,) = actions_on(package, "signer:StartSigningJob")["signer:StartSigningJob"]
    profile = ref("aws_signer_signing_profile", profile_name, "name")
    assert signs.endswith(f":/signing-profiles/{profile}") and signs.startswith("arn:")
    assert not actions_on(package, "lambda:")
    for role in ("test", "deploy", "codedeploy", "start"):
        assert not actions_on(policy_of(default_stack, role), "signer:"), role
    deploy = policy_of(default_stack, "deploy")
    assert "s3:PutObject" not in actions_on(deploy, "s3:")
    assert actions_on(deploy, "s3:GetObject")["s3:GetObject"] == [
        f"{arn}/healstack-ec2-status/packages/*",
        f"{arn}/healstack-ec2-status/signed/*",
    ]


# -- hash-locked installs -----------------------------------------------------------------------


def pip_installs(spec: dict[str, Any]) -> list[list[str]]:
    found = []
    for command in commands(spec):
        if command.startswith("cat > "):
            continue
        argv = shlex.split(command)
        if "pip" in argv and "install" in argv:
            found.append(argv)
    return found


def test_every_pip_install_in_every_stage_is_hash_locked(default_stack: dict[str, Any]) -> None:
    for stage in STAGES:
        spec = spec_of(default_stack, stage)
        installs = pip_installs(spec)
        assert len(installs) == 1, stage
        (argv,) = installs
        assert {"--require-hashes", "--no-deps"} <= set(argv), stage
        assert argv[argv.index("--only-binary") + 1] == ":all:"  # no setup.py runs
        lock = argv[argv.index("-r") + 1]
        assert argv[-2:] == ["-r", lock]
        if stage == "deploy":
            assert lock in inlined_files(spec)  # Terraform's copy, not the archive's
        else:
            assert lock == pipeline.LOCKS[stage]


def test_the_deploy_stage_installs_boto3_and_no_test_tool(default_stack: dict[str, Any]) -> None:
    spec = spec_of(default_stack, "deploy")
    lock = inlined_files(spec)["/opt/healstack/pipeline-deploy.txt"]
    assert set(pinned(lock)) == {
        "boto3",
        "botocore",
        "jmespath",
        "python-dateutil",
        "s3transfer",
        "six",
        "urllib3",
    }
    text = "\n".join(
        c for c in commands(spec) if not c.startswith("cat > /opt/healstack/deploy_functions")
    )
    for tool in TEST_TOOLS:
        assert tool not in text, tool


def pinned(lock: str) -> dict[str, str]:
    """name -> version of each requirement of a lock file."""
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock, re.MULTILINE))


@pytest.mark.parametrize("stage", STAGES)
def test_every_requirement_of_a_lock_file_has_a_hash(stage: str) -> None:
    text = (REPO / pipeline.LOCKS[stage]).read_text()
    assert "scripts/lock_pipeline_requirements.sh" in text.splitlines()[1]  # how to regenerate
    requirements = re.split(r"\n(?=\S)", text.strip())
    checked = 0
    for requirement in requirements:
        if requirement.startswith("#"):
            continue
        name_line, *rest = requirement.splitlines()
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==\S+ \\", name_line), name_line
        hashes = [line.strip() for line in rest if line.strip().startswith("--hash")]
        assert hashes, name_line
        for line in hashes:
            assert re.fullmatch(r"--hash=sha256:[0-9a-f]{64}( \\)?", line), line
        checked += 1
    assert checked == len(pinned(text)) > 0


def test_the_locks_pin_what_pyproject_pins() -> None:
    # the pipeline's builds run healstack on cdktf: the base, the cdktf extra, the test extra
    # and the simulate extra it includes (not the cdktn extra, whose constructs pin is CDK
    # Terrain's)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert "healstack[simulate]" in extras["test"]
    specs = [*project["dependencies"], *extras["cdktf"], *extras["simulate"], *extras["test"]]
    pins = {
        n.lower(): v
        for spec in specs
        for n, v in re.findall(r"^([A-Za-z0-9_.-]+)(?:\[\w+\])?==(\S+)$", spec)
    }
    for stage in STAGES:
        wanted = (REPO / pipeline.LOCKS[stage]).with_suffix(".in").read_text()
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", wanted, re.MULTILINE):
            assert pins[name.lower()] == version, (stage, name)
        locked = {
            n.lower(): v for n, v in pinned((REPO / pipeline.LOCKS[stage]).read_text()).items()
        }
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", wanted, re.MULTILINE):
            assert locked[name.lower()] == version, (stage, name)
    assert "checkov" not in (REPO / pipeline.LOCKS["test"]).read_text()
