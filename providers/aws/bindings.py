"""The one place that imports the AWS provider bindings (cdktf-cdktf-provider-aws 20.1.0).

Why the detour: the bindings package's ``__init__`` eagerly imports all ~2,100 resource
submodules (~13.5 s); importing a single submodule still runs that ``__init__``. We register
the package in ``sys.modules`` *without executing* its ``__init__``, load its jsii assembly
(``_jsii``, which is all the runtime needs), then import only the submodules healstack uses.
The synthesized output is byte-identical to a plain import (``tests/test_bindings_seam.py``).
Set ``HEALSTACK_EAGER_BINDINGS=1`` to take the plain import path (used by that test).

Everything AWS-binding-shaped that the rest of ``providers/aws`` needs is re-exported here,
so a later move to another binding set (e.g. the CDK Terrain fork) is one file.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

PACKAGE = "cdktf_cdktf_provider_aws"

#: the submodules healstack synthesizes with, and nothing else
SUBMODULES = (
    "provider",
    "data_aws_caller_identity",
    "data_aws_partition",
    "data_aws_region",
    "kms_key",
    "kms_alias",
    "sns_topic",
    "sns_topic_policy",
    "sns_topic_subscription",
    "sqs_queue",
    "sqs_queue_policy",
    "iam_role",
    "iam_role_policy",
    "cloudwatch_log_group",
    "lambda_function",
    "sfn_state_machine",
    "cloudwatch_event_rule",
    "cloudwatch_event_target",
    "cloudwatch_event_bus",
    "cloudwatch_event_bus_policy",
    "dynamodb_table",
    "lambda_permission",
    "lambda_function_url",
    # the functions' pipeline (pipeline.py, alarms.py) and the live alias
    "lambda_alias",
    "cloudwatch_metric_alarm",
    "cloudwatch_log_metric_filter",
    "cloudwatch_dashboard",
    "s3_bucket",
    "s3_bucket_ownership_controls",
    "s3_bucket_public_access_block",
    "s3_bucket_versioning",
    "s3_bucket_server_side_encryption_configuration",
    "s3_bucket_policy",
    "s3_bucket_lifecycle_configuration",
    "s3_bucket_notification",
    "codebuild_project",
    "codedeploy_app",
    "codedeploy_deployment_config",
    "codedeploy_deployment_group",
    "codepipeline",
    # code signing of the functions (signing.py)
    "signer_signing_profile",
    "signer_signing_job",
    "lambda_code_signing_config",
    "s3_object",
)


def _register_package_lazily() -> None:
    if PACKAGE in sys.modules:
        return
    if os.environ.get("HEALSTACK_EAGER_BINDINGS") == "1":
        importlib.import_module(PACKAGE)
        return
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{PACKAGE} is not installed (pip install -e . in the project venv)")
    package = importlib.util.module_from_spec(spec)  # created, __init__ NOT executed
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules[PACKAGE] = package
    importlib.import_module(f"{PACKAGE}._jsii")  # loads the assembly the submodules need


def _load() -> dict[str, ModuleType]:
    _register_package_lazily()
    return {name: importlib.import_module(f"{PACKAGE}.{name}") for name in SUBMODULES}


_modules = _load()


def _get(module: str, name: str) -> Any:
    return getattr(_modules[module], name)


AwsProvider = _get("provider", "AwsProvider")
AwsProviderEndpoints = _get("provider", "AwsProviderEndpoints")
DataAwsCallerIdentity = _get("data_aws_caller_identity", "DataAwsCallerIdentity")
DataAwsPartition = _get("data_aws_partition", "DataAwsPartition")
DataAwsRegion = _get("data_aws_region", "DataAwsRegion")
KmsKey = _get("kms_key", "KmsKey")
KmsAlias = _get("kms_alias", "KmsAlias")
SnsTopic = _get("sns_topic", "SnsTopic")
SnsTopicPolicy = _get("sns_topic_policy", "SnsTopicPolicy")
SnsTopicSubscription = _get("sns_topic_subscription", "SnsTopicSubscription")
SqsQueue = _get("sqs_queue", "SqsQueue")
SqsQueuePolicy = _get("sqs_queue_policy", "SqsQueuePolicy")
IamRole = _get("iam_role", "IamRole")
IamRolePolicy = _get("iam_role_policy", "IamRolePolicy")
CloudwatchLogGroup = _get("cloudwatch_log_group", "CloudwatchLogGroup")
LambdaFunction = _get("lambda_function", "LambdaFunction")
LambdaFunctionEnvironment = _get("lambda_function", "LambdaFunctionEnvironment")
LambdaFunctionLoggingConfig = _get("lambda_function", "LambdaFunctionLoggingConfig")
LambdaFunctionTracingConfig = _get("lambda_function", "LambdaFunctionTracingConfig")
SfnStateMachine = _get("sfn_state_machine", "SfnStateMachine")
SfnStateMachineLoggingConfiguration = _get(
    "sfn_state_machine", "SfnStateMachineLoggingConfiguration"
)
SfnStateMachineTracingConfiguration = _get(
    "sfn_state_machine", "SfnStateMachineTracingConfiguration"
)
SfnStateMachineEncryptionConfiguration = _get(
    "sfn_state_machine", "SfnStateMachineEncryptionConfiguration"
)
CloudwatchEventRule = _get("cloudwatch_event_rule", "CloudwatchEventRule")
CloudwatchEventBus = _get("cloudwatch_event_bus", "CloudwatchEventBus")
CloudwatchEventBusPolicy = _get("cloudwatch_event_bus_policy", "CloudwatchEventBusPolicy")
CloudwatchEventTarget = _get("cloudwatch_event_target", "CloudwatchEventTarget")
CloudwatchEventTargetDeadLetterConfig = _get(
    "cloudwatch_event_target", "CloudwatchEventTargetDeadLetterConfig"
)
CloudwatchEventTargetRetryPolicy = _get(
    "cloudwatch_event_target", "CloudwatchEventTargetRetryPolicy"
)
DynamodbTable = _get("dynamodb_table", "DynamodbTable")
LambdaPermission = _get("lambda_permission", "LambdaPermission")
LambdaFunctionUrl = _get("lambda_function_url", "LambdaFunctionUrl")
LambdaAlias = _get("lambda_alias", "LambdaAlias")
CloudwatchMetricAlarm = _get("cloudwatch_metric_alarm", "CloudwatchMetricAlarm")
CloudwatchLogMetricFilter = _get("cloudwatch_log_metric_filter", "CloudwatchLogMetricFilter")
CloudwatchDashboard = _get("cloudwatch_dashboard", "CloudwatchDashboard")
S3Bucket = _get("s3_bucket", "S3Bucket")
S3BucketOwnershipControls = _get("s3_bucket_ownership_controls", "S3BucketOwnershipControls")
S3BucketPublicAccessBlock = _get("s3_bucket_public_access_block", "S3BucketPublicAccessBlock")
S3BucketVersioningA = _get("s3_bucket_versioning", "S3BucketVersioningA")
S3BucketServerSideEncryptionConfigurationA = _get(
    "s3_bucket_server_side_encryption_configuration", "S3BucketServerSideEncryptionConfigurationA"
)
S3BucketServerSideEncryptionConfigurationRuleA = _get(
    "s3_bucket_server_side_encryption_configuration",
    "S3BucketServerSideEncryptionConfigurationRuleA",
)
S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA = _get(
    "s3_bucket_server_side_encryption_configuration",
    "S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA",
)
S3BucketPolicy = _get("s3_bucket_policy", "S3BucketPolicy")
S3BucketLifecycleConfiguration = _get(
    "s3_bucket_lifecycle_configuration", "S3BucketLifecycleConfiguration"
)
S3BucketLifecycleConfigurationRule = _get(
    "s3_bucket_lifecycle_configuration", "S3BucketLifecycleConfigurationRule"
)
S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload = _get(
    "s3_bucket_lifecycle_configuration",
    "S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload",
)
S3BucketLifecycleConfigurationRuleExpiration = _get(
    "s3_bucket_lifecycle_configuration", "S3BucketLifecycleConfigurationRuleExpiration"
)
S3BucketLifecycleConfigurationRuleFilter = _get(
    "s3_bucket_lifecycle_configuration", "S3BucketLifecycleConfigurationRuleFilter"
)
S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration = _get(
    "s3_bucket_lifecycle_configuration",
    "S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration",
)
S3BucketNotification = _get("s3_bucket_notification", "S3BucketNotification")
CodebuildProject = _get("codebuild_project", "CodebuildProject")
CodebuildProjectEnvironmentEnvironmentVariable = _get(
    "codebuild_project", "CodebuildProjectEnvironmentEnvironmentVariable"
)
CodedeployApp = _get("codedeploy_app", "CodedeployApp")
CodedeployDeploymentConfig = _get("codedeploy_deployment_config", "CodedeployDeploymentConfig")
CodedeployDeploymentGroup = _get("codedeploy_deployment_group", "CodedeployDeploymentGroup")
Codepipeline = _get("codepipeline", "Codepipeline")
CodepipelineArtifactStore = _get("codepipeline", "CodepipelineArtifactStore")
CodepipelineArtifactStoreEncryptionKey = _get(
    "codepipeline", "CodepipelineArtifactStoreEncryptionKey"
)
CodepipelineStage = _get("codepipeline", "CodepipelineStage")
CodepipelineStageAction = _get("codepipeline", "CodepipelineStageAction")
SignerSigningProfile = _get("signer_signing_profile", "SignerSigningProfile")
SignerSigningJob = _get("signer_signing_job", "SignerSigningJob")
LambdaCodeSigningConfig = _get("lambda_code_signing_config", "LambdaCodeSigningConfig")
S3Object = _get("s3_object", "S3Object")
