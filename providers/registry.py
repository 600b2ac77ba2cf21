"""Which clouds healstack can target, by name, loaded only when asked for.

Naming rules are pure Python (``validate`` needs no bindings); the full provider loads
its cloud's bindings, so it is imported only for synthesis.
"""

from __future__ import annotations

import importlib
from typing import cast

from healstack.errors import UsageError
from healstack.providers.interfaces import CloudProvider, NamingRules

PROVIDERS: dict[str, tuple[str, str]] = {
    # name: (module with the provider class, module with the naming rules)
    "aws": (
        "healstack.providers.aws.provider:AwsProvider",
        "healstack.providers.aws.naming:AwsNamingRules",
    ),
}


def _load(ref: str) -> object:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)()


def _entry(name: str) -> tuple[str, str]:
    if name not in PROVIDERS:
        raise UsageError(f'provider "{name}" is not available (use one of: {", ".join(PROVIDERS)})')
    return PROVIDERS[name]


def naming_rules(name: str) -> NamingRules:
    return cast(NamingRules, _load(_entry(name)[1]))


def provider(name: str) -> CloudProvider:
    return cast(CloudProvider, _load(_entry(name)[0]))
