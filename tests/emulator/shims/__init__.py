"""Small shims over moto 5.2.5 for a real ``terraform apply`` of a healstack stack.

Each shim covers **one** gap between moto's server and what the AWS provider 5.100.0 (or the
stack at run time) needs. Its docstring names the moto code it patches (paths relative to
``moto/``) and why; it is a context manager that patches at class/module level (moto serves
every request in its own thread) and is always undone. One module per AWS service;
``emulator_shims()`` installs them all. Each is worth reporting upstream; the product never
imports any of them.

To add a shim: write a ``@contextmanager`` function in the service's module (or a new one)
whose docstring names the moto file/function and the symptom, and enter it in
``emulator_shims`` below.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from tests.emulator.shims.awslambda import (
    lambda_code_signing_configs,
    lambda_dropped_configuration,
)
from tests.emulator.shims.codebuild import (
    codebuild_encryption_key,
    codebuild_pipeline_projects,
    codebuild_update_project,
)
from tests.emulator.shims.codedeploy import codedeploy_deletes, codedeploy_deployment_group_info
from tests.emulator.shims.codepipeline import codepipeline_epoch_timestamps
from tests.emulator.shims.events import (
    Delivery,
    EventDeliveries,
    events_match_arrays_of_objects,
    events_to_step_functions,
)
from tests.emulator.shims.s3 import s3_bucket_policy_conditions, s3_eventbridge_notification
from tests.emulator.shims.signer import signer_signing_jobs
from tests.emulator.shims.stepfunctions import (
    interpreter_endpoint,
    list_state_machine_versions,
    validate_state_machine_definition,
)

__all__ = [
    "Delivery",
    "EventDeliveries",
    "Shims",
    "codebuild_encryption_key",
    "codebuild_pipeline_projects",
    "codebuild_update_project",
    "codedeploy_deletes",
    "codedeploy_deployment_group_info",
    "codepipeline_epoch_timestamps",
    "emulator_shims",
    "events_match_arrays_of_objects",
    "events_to_step_functions",
    "interpreter_endpoint",
    "lambda_code_signing_configs",
    "lambda_dropped_configuration",
    "list_state_machine_versions",
    "s3_bucket_policy_conditions",
    "s3_eventbridge_notification",
    "signer_signing_jobs",
    "validate_state_machine_definition",
]


@dataclass(frozen=True)
class Shims:
    """Handles of the installed shims that record something."""

    events: EventDeliveries


@contextmanager
def emulator_shims(endpoint: str) -> Iterator[Shims]:
    """Install every shim for a moto server at ``endpoint``; undo them all on exit."""
    with ExitStack() as stack:
        # Step Functions
        stack.enter_context(validate_state_machine_definition())
        stack.enter_context(list_state_machine_versions())
        stack.enter_context(interpreter_endpoint(endpoint))
        # EventBridge
        stack.enter_context(events_match_arrays_of_objects())
        events = stack.enter_context(events_to_step_functions())
        # Lambda
        stack.enter_context(lambda_dropped_configuration())
        # code signing: the config on every function, Terraform's signing of the first code
        stack.enter_context(lambda_code_signing_configs())
        stack.enter_context(signer_signing_jobs())
        # the function pipeline: CodeBuild, CodeDeploy, S3, CodePipeline
        stack.enter_context(codebuild_pipeline_projects())
        stack.enter_context(codebuild_encryption_key())
        stack.enter_context(codebuild_update_project())
        stack.enter_context(codedeploy_deployment_group_info())
        stack.enter_context(codedeploy_deletes())
        stack.enter_context(s3_eventbridge_notification())
        stack.enter_context(s3_bucket_policy_conditions())
        stack.enter_context(codepipeline_epoch_timestamps())
        yield Shims(events=events)
