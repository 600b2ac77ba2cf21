"""Lambda: function settings moto accepts but forgets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

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
