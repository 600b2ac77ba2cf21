"""Contracts: what each patch in ``healstack.simulate.moto_patches`` assumes about moto.

A patch can stop applying without an error: if moto starts to ``from time import sleep``,
patching the module's ``time`` does nothing and retries really sleep; a copied method body
silently drops moto's fixes. Each test here pins one such assumption (numbered as the patches
in the ``moto_patches`` docstring) and fails, naming the patch, when a moto upgrade changes it.
Porting to a new moto: run this file first (with ``HEALSTACK_UNTESTED_MOTO=<version>``, see
``healstack.simulate.moto_version``), re-read the moto code a failing test names, re-port the
patch, and only then move the pinned hash or signature here.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import io
import json
import os
import random
import re
import sys
import textwrap
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import jsonpath_ng
import jsonpath_ng.ext
import moto
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.models import botocore_stubber
from moto.stepfunctions.parser import utils as parser_utils
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.retry import (
    jitter_strategy_decl,
    retrier_decl,
)
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
    lambda_eval_utils,
    state_task_lambda,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_lambda,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.backend import execution_worker

from healstack.simulate import moto_patches
from healstack.simulate.moto_version import TESTED_MOTO, UNTESTED_ENV

MOTO = Path(moto.__file__).parent
PARSER = MOTO / "stepfunctions" / "parser"

#: sha256 (first 16 hex digits) of the moto methods whose *body* a patch depends on, as
#: ``textwrap.dedent(inspect.getsource(method))`` of moto 5.2.5
PINNED_SOURCES: dict[str, tuple[Callable[..., Any], str]] = {
    # patch 3: evaluates the wait, then calls _wait_interval (the patched sleep)
    "WaitFunction._eval_body": (WaitFunction._eval_body, "3872d7c056bbde54"),
    # patch 4: the body healstack copies, with datetime.now() swapped for the simulated clock
    "Timestamp._get_wait_seconds": (Timestamp._get_wait_seconds, "a412921a3b8d980f"),
    # patch 5: IntervalSeconds/BackoffRate/MaxDelay/Jitter pushed, then time.sleep(popped)
    "RetrierDecl._eval_body": (retrier_decl.RetrierDecl._eval_body, "6a1a0c8aad107a6e"),
    # patch 5: the pre-jitter delay is on top of the stack; random.uniform(0, delay)
    "JitterStrategyDecl._eval_body": (
        jitter_strategy_decl.JitterStrategyDecl._eval_body,
        "3115a6fbf5c0eb80",
    ),
    # patch 7: the root program evaluates in a worker thread and waits TimeoutSeconds for it
    "Program.eval": (Program.eval, "b8bfa1cb68d308ac"),
    # patch 14: threading.Event() + Thread(...) + event.wait(timeout_seconds)
    "ExecutionState._evaluate_with_timeout": (
        execute_state.ExecutionState._evaluate_with_timeout,
        "024c6f9bf0035b4d",
    ),
}


def _digest(method: Callable[..., Any]) -> str:
    return hashlib.sha256(textwrap.dedent(inspect.getsource(method)).encode()).hexdigest()[:16]


def _tree(module: ModuleType) -> ast.Module:
    return ast.parse(inspect.getsource(module))


def _attributes_of(tree: ast.AST, name: str) -> set[str]:
    """``X`` for every ``name.X`` in ``tree``."""
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == name
    }


def _imports_from(tree: ast.AST, module: str) -> set[str]:
    """Names taken with ``from module import ...`` anywhere in ``tree``."""
    return {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == module
        for alias in node.names
    }


def _parser_modules_mentioning(text: str) -> list[str]:
    """Import names of moto's Step Functions interpreter modules whose source has ``text``."""
    return sorted(
        "moto." + ".".join(path.relative_to(MOTO).with_suffix("").parts)
        for path in PARSER.rglob("*.py")
        if text in path.read_text(encoding="utf-8")
    )


def _parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


@pytest.mark.parametrize("name", sorted(PINNED_SOURCES))
def test_the_moto_methods_the_patches_depend_on_are_unchanged(name: str) -> None:
    method, pinned = PINNED_SOURCES[name]
    assert _digest(method) == pinned, (
        f"moto changed {name}: re-read it against the patch in healstack/simulate/moto_patches.py "
        "that names it, re-port the patch, then pin the new digest"
    )


# -- 1. LambdaSimpleBackend.invoke ----------------------------------------------------------


@pytest.fixture
def lambda_without_docker() -> Iterator[Any]:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(
            RoleName="contract", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
        client = boto3.client("lambda", region_name="us-east-1")
        client.create_function(
            FunctionName="contract",
            Runtime="python3.11",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": code.getvalue()},
        )
        yield client


def test_1_invoke_gets_the_request_and_answers_through_response_headers(
    lambda_without_docker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _parameters(LambdaSimpleBackend.invoke) == [
        "self",
        "function_name",
        "qualifier",
        "body",
        "headers",
        "response_headers",
    ]
    seen: list[tuple[str, Any]] = []

    def invoke(
        backend: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        seen.append((backend.get_function(function_name, qualifier).function_name, body))
        response_headers["x-amz-function-error"] = "Unhandled"
        payload = b'{"errorType": "Boom"}'
        response_headers["Content-Length"] = str(len(payload))
        return payload

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)
    answer = lambda_without_docker.invoke(FunctionName="contract", Payload=b'{"a": 1}')
    assert seen and seen[0][0] == "contract" and json.loads(seen[0][1]) == {"a": 1}
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read()) == {"errorType": "Boom"}


# -- 2. lambda_eval_utils.execute_lambda_function_integration -------------------------------


def test_2_the_lambda_integration_is_called_through_its_module_with_env_first() -> None:
    assert _parameters(lambda_eval_utils.execute_lambda_function_integration)[0] == "env"
    for caller in (state_task_lambda, state_task_service_lambda):
        assert "execute_lambda_function_integration" in _attributes_of(
            _tree(caller), "lambda_eval_utils"
        ), caller.__name__
    takers = [
        name
        for name in _parser_modules_mentioning("import execute_lambda_function_integration")
        if name != lambda_eval_utils.__name__
    ]
    assert takers == [], f"these bind the function at import, bypassing patch 2: {takers}"


# -- 3. WaitFunction._wait_interval ---------------------------------------------------------


def _loaded_subclasses(base: type) -> list[type]:
    found: list[type] = []
    todo: list[type] = [base]
    while todo:
        subclasses: list[type] = todo.pop().__subclasses__()
        for sub in subclasses:
            found.append(sub)
            todo.append(sub)
    return found


def test_3_every_wait_sleeps_through_wait_interval() -> None:
    assert _parameters(WaitFunction._wait_interval) == ["self", "env", "wait_seconds"]
    for module in _parser_modules_mentioning("(WaitFunction)"):
        __import__(module)
    kinds = _loaded_subclasses(WaitFunction)
    assert {kind.__name__ for kind in kinds} >= {"Seconds", "SecondsPath", "Timestamp"}
    for kind in kinds:
        assert "_wait_interval" not in vars(kind), f"{kind.__name__} sleeps its own way"
        assert "_eval_body" not in vars(kind), f"{kind.__name__} evaluates its own way"


# -- 4. Timestamp._get_wait_seconds (copied body) -------------------------------------------


def test_4_timestamp_helpers_the_copied_body_calls_are_there() -> None:
    assert isinstance(inspect.getattr_static(Timestamp, "_from_timestamp_string"), staticmethod)
    assert Timestamp._from_timestamp_string("2026-12-03T12:00:00Z") is not None
    assert Timestamp._from_timestamp_string("not a time") is None
    assert _parameters(Timestamp._create_failure_event) == ["self", "env", "timestamp_str"]
    for kind in _loaded_subclasses(Timestamp):
        assert "_get_wait_seconds" not in vars(kind), kind.__name__


def test_4_the_copy_differs_from_moto_only_in_the_clock() -> None:
    """The patch's body is moto's, statement for statement, up to the delta it returns."""
    ours = ast.parse(textwrap.dedent(inspect.getsource(moto_patches._simulated_timestamp_waits)))
    theirs = ast.parse(textwrap.dedent(inspect.getsource(Timestamp._get_wait_seconds)))
    ours_body = next(
        n for n in ast.walk(ours) if isinstance(n, ast.FunctionDef) and n.name == "get_wait_seconds"
    ).body
    theirs_body = theirs.body[0].body  # type: ignore[attr-defined]
    assert [ast.dump(s) for s in ours_body[:4]] == [ast.dump(s) for s in theirs_body[:4]]
    assert "datetime.datetime.now()" in ast.unparse(theirs_body[4])


# -- 5. retrier_decl.time, jitter_strategy_decl.random --------------------------------------


def test_5_retries_sleep_through_the_time_module_and_only_sleep() -> None:
    tree = _tree(retrier_decl)
    assert retrier_decl.time is time, "retrier_decl no longer imports time as a module"
    assert _imports_from(tree, "time") == set(), "retrier_decl binds a time function directly"
    assert _attributes_of(tree, "time") == {"sleep"}, "the SimpleNamespace offers only sleep"


def test_5_jitter_draws_from_the_random_module_with_what_a_seeded_random_has() -> None:
    tree = _tree(jitter_strategy_decl)
    assert jitter_strategy_decl.random is random
    assert _imports_from(tree, "random") == set()
    used = _attributes_of(tree, "random")
    assert used == {"uniform"}
    assert all(callable(getattr(random.Random(0), name)) for name in used)


# -- 6. StateTaskLambda._from_error ---------------------------------------------------------


def test_6_lambda_client_errors_are_named_as_the_invoke_integration_names_them() -> None:
    assert _parameters(state_task_lambda.StateTaskLambda._from_error) == ["self", "env", "ex"]
    service = state_task_service_lambda.StateTaskServiceLambda
    assert isinstance(
        inspect.getattr_static(service, "_error_cause_from_client_error"), staticmethod
    )
    error = ClientError(
        {
            "Error": {"Code": "ServiceException", "Message": "boom"},
            "ResponseMetadata": {"HTTPStatusCode": 500, "RequestId": "r-1"},
        },
        "Invoke",
    )
    name, cause = service._error_cause_from_client_error(error)
    assert name == "Lambda.ServiceException" and "boom" in cause
    assert {"env", "error_name", "event_type", "event_details"} <= set(
        _parameters(FailureEvent.__init__)
    )


# -- 7. Program.eval ------------------------------------------------------------------------


def test_7_the_root_environment_has_what_the_patch_reads() -> None:
    assert _parameters(Program.eval) == ["self", "env"]
    for method in ("is_frame", "set_timed_out", "open_frame"):
        assert callable(getattr(Environment, method, None)), method
    # state_of / execution_of read env.states.context_object.context_object_data
    states = sys.modules[Environment.__module__.rsplit(".", 1)[0] + ".states"]
    assert "context_object_data" in _attributes_of(_tree(states), "self")


# -- 8. boto_client_for ---------------------------------------------------------------------


def test_8_every_boto_client_for_user_is_loaded_and_binds_it_by_name() -> None:
    assert _parameters(boto_client.boto_client_for) == ["region", "service", "state_credentials"]
    users = [
        name
        for name in _parser_modules_mentioning("boto_client_for")
        if name != boto_client.__name__
    ]
    assert users
    # moto_patches finds them in sys.modules when it installs: each must be imported by then
    not_loaded = [name for name in users if name not in sys.modules]
    assert not_loaded == [], f"patch 8 would miss {not_loaded}"
    for name in users:
        module = sys.modules[name]
        assert module.boto_client_for is boto_client.boto_client_for, name
        assert "boto_client_for" not in _attributes_of(_tree(module), "boto_client"), name


# -- 9. the interpreter's loggers -----------------------------------------------------------


def test_9_the_interpreter_logs_under_one_silenceable_name() -> None:
    """Every logger of the interpreter is ``getLogger(__name__)``, so under the package name
    the patch silences (a module logging under another name would escape it)."""
    assert PARSER.name == "parser" and moto_patches._INTERPRETER_LOGGER == (
        "moto.stepfunctions.parser"
    )
    calls = [
        (path.relative_to(PARSER), ast.unparse(node))
        for path in PARSER.rglob("*.py")
        if "getLogger" in (text := path.read_text(encoding="utf-8"))
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("getLogger")
    ]
    assert calls
    elsewhere = [(str(path), call) for path, call in calls if call != "logging.getLogger(__name__)"]
    assert elsewhere == [], f"these log outside {moto_patches._INTERPRETER_LOGGER}: {elsewhere}"


# -- 10. TMP_THREADS ------------------------------------------------------------------------


def test_10_every_interpreter_thread_goes_into_the_one_tmp_threads_list() -> None:
    assert isinstance(parser_utils.TMP_THREADS, list)
    users = _parser_modules_mentioning("TMP_THREADS.append")
    assert users
    for name in users:
        module = __import__(name, fromlist=["_"])
        assert module.TMP_THREADS is parser_utils.TMP_THREADS, name


# -- 11. AmazonStateLanguageParser.parse ----------------------------------------------------


def test_11_executions_parse_through_the_static_parse() -> None:
    assert isinstance(inspect.getattr_static(AmazonStateLanguageParser, "parse"), staticmethod)
    assert _parameters(AmazonStateLanguageParser.parse) == ["definition"]
    tree = _tree(execution_worker)
    assert "parse" in _attributes_of(tree, "AmazonStateLanguageParser")
    program, _ = AmazonStateLanguageParser.parse(
        json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    )
    assert isinstance(program, Program)


# -- 12. json_path.parse, result_path.parse -------------------------------------------------


def test_12_json_paths_are_parsed_by_the_module_level_parse_names() -> None:
    assert json_path.parse is jsonpath_ng.ext.parse
    assert result_path.parse is jsonpath_ng.parse
    for module in (json_path, result_path):
        tree = _tree(module)
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "parse"
        ]
        assert calls, f"{module.__name__} no longer calls parse(...) by its module name"
        imported = _imports_from(tree, "jsonpath_ng") | _imports_from(tree, "jsonpath_ng.ext")
        assert "parse" in imported, module.__name__


# -- 13. BotocoreStubber.__call__ -----------------------------------------------------------


def test_13_every_mocked_call_goes_through_the_stubber_instance() -> None:
    assert isinstance(botocore_stubber, BotocoreStubber)
    assert isinstance(botocore_stubber.enabled, bool)
    call = inspect.signature(BotocoreStubber.__call__)
    assert list(call.parameters)[:3] == ["self", "event_name", "request"]
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in call.parameters.values())


# -- 14. execute_state.threading / Thread ---------------------------------------------------


def test_14_task_timeouts_use_threading_event_and_thread_by_module_name() -> None:
    tree = _tree(execute_state)
    assert execute_state.threading is threading
    assert execute_state.Thread is threading.Thread
    assert _attributes_of(tree, "threading") == {"Event"}, "patch 14 offers only Event"
    assert _imports_from(tree, "threading") == {"Thread"}
    method = ast.parse(
        textwrap.dedent(inspect.getsource(execute_state.ExecutionState._evaluate_with_timeout))
    )
    text = ast.unparse(method)
    assert "threading.Event()" in text and "Thread(target=" in text
    assert ".wait(timeout_seconds)" in text


def test_the_contracts_cover_every_installed_patch() -> None:
    """A new patch in install_patches needs its contract here (the docstring numbers them)."""
    numbered = {int(n) for n in re.findall(r"^ ?(\d+)\. ", moto_patches.__doc__ or "", re.M)}
    covered = {
        int(name.split("_")[1])
        for name in globals()
        if name.startswith("test_") and name.split("_")[1].isdigit()
    }
    assert numbered == covered == set(range(1, 15)), (numbered, covered)
    assert moto.__version__ in (TESTED_MOTO, os.environ.get(UNTESTED_ENV))
