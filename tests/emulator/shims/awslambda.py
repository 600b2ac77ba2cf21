"""Lambda: function settings moto accepts but forgets, and code signing configs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock
from urllib.parse import unquote

#: CreateFunction fields moto accepts but neither stores nor returns
_LAMBDA_DROPPED_FIELDS = ("DeadLetterConfig", "LoggingConfig")


@contextmanager
def lambda_dropped_configuration() -> Iterator[None]:
    """Lambda forgets a function's ``DeadLetterConfig`` and ``LoggingConfig``.

    moto: ``awslambda/models.py`` ``LambdaFunction.__init__`` ignores both request fields and
    ``LambdaFunction.get_configuration`` returns neither, so after apply the provider reads no
    ``dead_letter_config`` and no ``logging_config`` and the next plan wants to add them back
    (which would also re-publish every function version). ``update_configuration`` ignores
    them as well.

    Shim: keep both from CreateFunction/UpdateFunctionConfiguration and return them;
    ``LoggingConfig`` defaults to AWS's ``{"LogFormat": "Text", "LogGroup":
    "/aws/lambda/<name>"}`` when the function did not set one.
    """
    from moto.awslambda.models import LambdaFunction

    original_init = LambdaFunction.__init__
    original_get = LambdaFunction.get_configuration
    original_update = LambdaFunction.update_configuration

    def init(
        function: LambdaFunction, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any
    ) -> None:
        original_init(function, account_id, spec, *args, **kwargs)
        function._emulator_fields = {k: spec[k] for k in _LAMBDA_DROPPED_FIELDS if spec.get(k)}

    def get_configuration(function: LambdaFunction, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config: dict[str, Any] = original_get(function, *args, **kwargs)
        kept = getattr(function, "_emulator_fields", {})
        config.update(kept)
        config.setdefault(
            "LoggingConfig",
            {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function.function_name}"},
        )
        return config

    def update_configuration(function: LambdaFunction, updates: dict[str, Any]) -> dict[str, Any]:
        kept = getattr(function, "_emulator_fields", {})
        kept.update({k: updates[k] for k in _LAMBDA_DROPPED_FIELDS if k in updates})
        function._emulator_fields = kept
        return original_update(function, updates)

    with (
        mock.patch.object(LambdaFunction, "__init__", init),
        mock.patch.object(LambdaFunction, "get_configuration", get_configuration),
        mock.patch.object(LambdaFunction, "update_configuration", update_configuration),
    ):
        yield


@contextmanager
def lambda_code_signing_configs() -> Iterator[dict[str, dict[str, Any]]]:
    """Lambda has no code signing configs (``CreateCodeSigningConfig`` and the rest).

    moto: ``awslambda/urls.py`` has no ``/2020-04-22/code-signing-configs`` route and
    ``awslambda/responses.py`` ``LambdaResponse`` no such actions (a function's
    ``CodeSigningConfigArn`` is stored and returned, never checked); ``LambdaBackend.list_tags``
    (``_get_resource_by_arn``) looks every ARN up as a function, so the provider's tag read of
    a config fails.

    Shim: route the collection and ``/<arn>``; create (201), get, update (PUT) and delete
    (204) keep the config (id ``csc-<17 hex>``, ARN ``...:code-signing-config:<id>``, the
    request's publishers, policies, description and tags) as AWS answers it; ``ListTags`` /
    ``TagResource`` / ``UntagResource`` on a config's ARN use its tags. Nothing is enforced:
    moto's Lambda checks no signature. Yields the configs by ARN.
    """
    from moto.awslambda import urls
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda.responses import LambdaResponse
    from moto.core.utils import iso_8601_datetime_with_nanoseconds
    from moto.moto_api._internal import mock_random
    from moto.utilities.utils import get_partition

    configs: dict[str, dict[str, Any]] = {}
    tags: dict[str, dict[str, str]] = {}

    def not_found(arn: str) -> Any:
        body = {"Type": "User", "Message": f"Code signing config not found: {arn}"}
        headers = {"status": 404, "x-amzn-errortype": "ResourceNotFoundException"}
        return 404, headers, json.dumps(body)

    def arn_of(response: LambdaResponse) -> str:
        return unquote(response.path.split("/code-signing-configs/", 1)[1]).rstrip("/")

    def create_code_signing_config(response: LambdaResponse) -> Any:
        body = response.json_body
        config_id = "csc-" + mock_random.get_random_hex(17)
        arn = (
            f"arn:{get_partition(response.region)}:lambda:{response.region}:"
            f"{response.current_account}:code-signing-config:{config_id}"
        )
        configs[arn] = {
            "CodeSigningConfigId": config_id,
            "CodeSigningConfigArn": arn,
            "Description": body.get("Description", ""),
            "AllowedPublishers": body["AllowedPublishers"],
            "CodeSigningPolicies": body.get(
                "CodeSigningPolicies", {"UntrustedArtifactOnDeployment": "Warn"}
            ),
            "LastModified": iso_8601_datetime_with_nanoseconds(),
        }
        tags[arn] = dict(body.get("Tags") or {})
        return 201, {"status": 201}, json.dumps({"CodeSigningConfig": configs[arn]})

    def get_code_signing_config(response: LambdaResponse) -> Any:
        arn = arn_of(response)
        if arn not in configs:
            return not_found(arn)
        return 200, {}, json.dumps({"CodeSigningConfig": configs[arn]})

    def update_code_signing_config(response: LambdaResponse) -> Any:
        arn = arn_of(response)
        if arn not in configs:
            return not_found(arn)
        body = response.json_body
        for field in ("Description", "AllowedPublishers", "CodeSigningPolicies"):
            if field in body:
                configs[arn][field] = body[field]
        configs[arn]["LastModified"] = iso_8601_datetime_with_nanoseconds()
        return 200, {}, json.dumps({"CodeSigningConfig": configs[arn]})

    def delete_code_signing_config(response: LambdaResponse) -> Any:
        arn = arn_of(response)
        if configs.pop(arn, None) is None:
            return not_found(arn)
        tags.pop(arn, None)
        return 204, {"status": 204}, ""

    original_list = LambdaBackend.list_tags
    original_tag = LambdaBackend.tag_resource
    original_untag = LambdaBackend.untag_resource

    def list_tags(backend: LambdaBackend, resource_arn: str) -> dict[str, str]:
        if resource_arn in configs:
            return tags[resource_arn]
        return original_list(backend, resource_arn)

    def tag_resource(backend: LambdaBackend, resource_arn: str, new: dict[str, str]) -> None:
        if resource_arn in configs:
            tags[resource_arn].update(new)
        else:
            original_tag(backend, resource_arn, new)

    def untag_resource(backend: LambdaBackend, resource_arn: str, keys: list[str]) -> None:
        if resource_arn in configs:
            for key in keys:
                tags[resource_arn].pop(key, None)
        else:
            original_untag(backend, resource_arn, keys)

    paths = {
        r"{0}/(?P<api_version>[^/]+)/code-signing-configs/?$": LambdaResponse.dispatch,
        r"{0}/(?P<api_version>[^/]+)/code-signing-configs/(?P<arn>.+)$": LambdaResponse.dispatch,
    }
    actions = {
        "create_code_signing_config": create_code_signing_config,
        "get_code_signing_config": get_code_signing_config,
        "update_code_signing_config": update_code_signing_config,
        "delete_code_signing_config": delete_code_signing_config,
    }
    with ExitStack() as stack:
        stack.enter_context(mock.patch.dict(urls.url_paths, paths))
        for name, action in actions.items():
            stack.enter_context(mock.patch.object(LambdaResponse, name, action, create=True))
        stack.enter_context(mock.patch.object(LambdaBackend, "list_tags", list_tags))
        stack.enter_context(mock.patch.object(LambdaBackend, "tag_resource", tag_resource))
        stack.enter_context(mock.patch.object(LambdaBackend, "untag_resource", untag_resource))
        yield configs
