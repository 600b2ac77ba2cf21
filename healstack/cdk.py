"""The one place healstack imports the CDK core from: cdktf or cdktn, whichever is installed.

healstack stands on the core alone (its AWS resources are its own generated classes), and the
core is the same in CDK for Terraform (``cdktf`` 0.21, archived) and in CDK Terrain (``cdktn``
0.24, its maintained continuation): the same classes under another package name, the same
``cdktf.json``, ``cdktf.out`` and logical ids. Every product module imports the core names
from here, never ``cdktf`` or ``cdktn`` itself (tests/core/test_architecture.py checks it).

Which one: ``HEALSTACK_CDK=cdktf|cdktn`` when set (an empty value counts as unset), else
``cdktf`` when it is installed, else ``cdktn``. Looking is cheap (``importlib.util.find_spec``
loads nothing); importing this module loads the chosen package and so starts the jsii runtime,
like importing cdktf itself did.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from healstack.errors import UsageError

#: the environment variable that chooses the core explicitly
CDK_ENV = "HEALSTACK_CDK"
#: the cores healstack runs on, in the order it looks for them
CHOICES = ("cdktf", "cdktn")
#: how each is installed (what the error for a missing one suggests)
INSTALL = {"cdktf": "cdktf==0.21.0", "cdktn": "cdktn==0.24.0"}


def chosen(environ: Mapping[str, str] | None = None) -> str:
    """The core's package name: ``HEALSTACK_CDK`` if set, else the first of ``CHOICES``
    installed. A ``UsageError`` (one line) for a wrong value or a core that is not there."""
    environ = os.environ if environ is None else environ
    wanted = (environ.get(CDK_ENV) or "").strip()
    if wanted:
        if wanted not in CHOICES:
            raise UsageError(f'{CDK_ENV} "{wanted}" is not a CDK core (use cdktf or cdktn)')
        if importlib.util.find_spec(wanted) is None:
            raise UsageError(
                f"{CDK_ENV}={wanted}: {wanted} is not installed (pip install {INSTALL[wanted]})"
            )
        return wanted
    for name in CHOICES:
        if importlib.util.find_spec(name) is not None:
            return name
    raise UsageError(
        "neither cdktf nor cdktn is installed "
        f"(pip install {INSTALL['cdktf']}, or {INSTALL['cdktn']} for CDK Terrain)"
    )


#: the package the names below come from: "cdktf" or "cdktn"
CORE = chosen()

__all__ = [
    "CORE",
    "App",
    "Aspects",
    "AssetType",
    "DefaultTokenResolver",
    "LocalBackend",
    "S3Backend",
    "StringConcat",
    "TerraformAsset",
    "TerraformDataSource",
    "TerraformElement",
    "TerraformOutput",
    "TerraformProvider",
    "TerraformProviderGeneratorMetadata",
    "TerraformResource",
    "TerraformResourceConfig",
    "TerraformStack",
    "Token",
    "Tokenization",
]

if TYPE_CHECKING:  # the types: cdktn's classes are cdktf's under another package name
    from cdktf import (
        App,
        Aspects,
        AssetType,
        DefaultTokenResolver,
        LocalBackend,
        S3Backend,
        StringConcat,
        TerraformAsset,
        TerraformDataSource,
        TerraformElement,
        TerraformOutput,
        TerraformProvider,
        TerraformProviderGeneratorMetadata,
        TerraformResource,
        TerraformResourceConfig,
        TerraformStack,
        Token,
        Tokenization,
    )
else:
    # the jsii runtime's Node end-of-life banner says nothing a synthesis can act on
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    _core = importlib.import_module(CORE)
    globals().update({name: getattr(_core, name) for name in __all__ if name != "CORE"})
    del _core


class _AspectsSeen:
    """Whether any aspect was added in this process (``Aspects.of(x).add``, wrapped below).
    healstack's resource layer builds a recovery's resources without JavaScript objects
    until something needs one; aspects visit only constructs that exist, so when one was
    added the layer creates them all before the aspects run (see ``resource_base``). A
    wrapper on the core's one method is the only place that sees every aspect without a
    call into jsii's runtime per construct."""

    added = False


def aspects_added() -> bool:
    return _AspectsSeen.added


if not TYPE_CHECKING and not getattr(Aspects.add, "_healstack_seen", False):
    _core_add = Aspects.add

    def _add(self: object, aspect: object) -> None:
        _AspectsSeen.added = True
        _core_add(self, aspect)

    _add._healstack_seen = True  # type: ignore[attr-defined]
    Aspects.add = _add
