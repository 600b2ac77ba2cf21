"""Step Functions: the control-plane calls the provider makes, and where the interpreter calls."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

import boto3
from botocore.config import Config
from moto.core.responses import ActionResult
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.responses import StepFunctionResponse


@contextmanager
def validate_state_machine_definition() -> Iterator[None]:
    """``ValidateStateMachineDefinition`` is not implemented by moto.

    moto: ``stepfunctions/responses.py`` ``StepFunctionResponse`` has no
    ``validate_state_machine_definition``, so the server answers 500 (an HTML page). The AWS
    provider validates the definition of every ``aws_sfn_state_machine`` it creates or
    updates and retries the 500 until ``max_retries`` is spent, then fails the apply.

    Shim: parse the definition with moto's own ASL parser; ``OK`` with no diagnostics when it
    parses, ``FAIL`` with the parser's message otherwise (AWS also lints; healstack lints its
    definitions with statelint in its own tests).
    """

    def validate(self: StepFunctionResponse) -> ActionResult:
        definition = self._get_param("definition")
        try:
            AmazonStateLanguageParser.parse(definition)
        except Exception as exc:  # the parser raises plain exceptions on syntax errors
            diagnostic = {
                "severity": "ERROR",
                "code": "SCHEMA_VALIDATION_FAILED",
                "message": str(exc)[:1000],
            }
            return ActionResult({"result": "FAIL", "diagnostics": [diagnostic]})
        return ActionResult({"result": "OK", "diagnostics": []})

    with mock.patch.object(
        StepFunctionResponse, "validate_state_machine_definition", validate, create=True
    ):
        yield


@contextmanager
def list_state_machine_versions() -> Iterator[None]:
    """``ListStateMachineVersions`` is not implemented by moto.

    moto: ``stepfunctions/responses.py`` ``StepFunctionResponse`` has no
    ``list_state_machine_versions`` (500), although ``stepfunctions/models.py``
    ``StateMachine.versions`` holds the published versions. The AWS provider lists versions
    when it reads an ``aws_sfn_state_machine`` (create, refresh, plan).

    Shim: answer from ``StateMachine.versions``, newest first.
    """

    def list_versions(self: StepFunctionResponse) -> ActionResult:
        machine = self.stepfunction_backend.describe_state_machine(
            self._get_param("stateMachineArn")
        )
        versions = sorted(machine.versions.values(), key=lambda v: v.version, reverse=True)
        return ActionResult(
            {
                "stateMachineVersions": [
                    {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}
                    for v in versions
                ]
            }
        )

    with mock.patch.object(
        StepFunctionResponse, "list_state_machine_versions", list_versions, create=True
    ):
        yield


_STATE_EXEC = "moto.stepfunctions.parser.asl.component.state.exec."
#: moto's ASL interpreter modules that import ``boto_client_for`` by name (moto 5.2.5), and
#: the defining module itself
_INTERPRETER_CLIENT_MODULES = (
    "moto.stepfunctions.parser.asl.utils.boto_client",
    _STATE_EXEC + "state_map.item_reader.eval.resource_eval_s3",
    _STATE_EXEC + "state_map.result_writer.resource_eval.resource_eval_s3",
    _STATE_EXEC + "state_task.lambda_eval_utils",
    _STATE_EXEC + "state_task.service.state_task_service_aws_sdk",
    _STATE_EXEC + "state_task.service.state_task_service_batch",
    _STATE_EXEC + "state_task.service.state_task_service_dynamodb",
    _STATE_EXEC + "state_task.service.state_task_service_ecs",
    _STATE_EXEC + "state_task.service.state_task_service_events",
    _STATE_EXEC + "state_task.service.state_task_service_glue",
    _STATE_EXEC + "state_task.service.state_task_service_sfn",
    _STATE_EXEC + "state_task.service.state_task_service_sns",
    _STATE_EXEC + "state_task.service.state_task_service_sqs",
    _STATE_EXEC + "state_task.service.state_task_service_unsupported",
)


@contextmanager
def interpreter_endpoint(endpoint: str) -> Iterator[None]:
    """moto's interpreter calls services at ``http://localhost:$MOTO_PORT`` (default 5000).

    moto: ``stepfunctions/parser/asl/utils/boto_client.py`` ``boto_client_for``: outside
    ``mock_aws`` every Task (``lambda:invoke``, ``dynamodb:putItem``, ``sns:publish``,
    ``aws-sdk:*``, Map readers/writers) builds a boto3 client for ``localhost`` and
    ``settings.moto_server_port()`` (``$MOTO_PORT``, default 5000): a server on another port
    (ours: a free one) is not reached, and ``localhost`` may resolve to ``::1`` while the
    server listens on ``127.0.0.1`` only.

    Shim: the same client, aimed at ``endpoint``, in every interpreter module that imported
    the function by name.
    """

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # as moto builds it (test keys, no retries, the interpreter's timeouts), but aimed at us
        return boto3.client(
            service_name=service,
            region_name=region,
            aws_access_key_id="ak",
            aws_secret_access_key="sk",
            endpoint_url=endpoint,
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            ),
        )

    with ExitStack() as stack:
        for name in _INTERPRETER_CLIENT_MODULES:
            module = importlib.import_module(name)
            stack.enter_context(mock.patch.object(module, "boto_client_for", boto_client_for))
        yield
