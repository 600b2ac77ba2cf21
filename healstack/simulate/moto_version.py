"""The moto the simulator (and the emulator) is built against, checked before moto is used.

``healstack.simulate`` patches moto's Step Functions interpreter (``moto_patches``), so it
works with the exact moto it was tested with and no other: an untested one is refused in one
line rather than failing later inside a patched internal. ``pip install 'healstack[simulate]'``
installs that moto (pyproject.toml's ``simulate`` extra, which
``tests/simulate/test_moto_contract.py`` checks pins ``TESTED_MOTO``).

Porting to a newer moto: install it, run ``tests/simulate/test_moto_contract.py`` with
``HEALSTACK_UNTESTED_MOTO=<its version>`` (the contract tests name each patch that no longer
fits), fix those, then move ``TESTED_MOTO`` and the extra's pin together.
"""

from __future__ import annotations

import os
from importlib import metadata

from healstack.errors import HealstackError

#: the moto version every patch in ``moto_patches`` was written and tested against
TESTED_MOTO = "5.2.5"
#: accept this one untested moto version anyway (for porting: see the module docstring)
UNTESTED_ENV = "HEALSTACK_UNTESTED_MOTO"
INSTALL_HINT = "pip install 'healstack[simulate]'"
_PURPOSE = "healstack's simulator (simulate, the emulator)"


class MotoVersionError(HealstackError):
    """moto is missing or is not the version the simulator was built against (exit 2)."""


def installed_moto() -> str | None:
    """The installed moto's version, None when moto is not installed (or not importable)."""
    try:
        version = metadata.version("moto")
    except metadata.PackageNotFoundError:
        return None
    try:
        import moto  # noqa: F401  (installed but broken or blocked counts as missing)
    except ImportError:
        return None
    return version


def require_moto() -> str:
    """Return the installed moto version, or raise ``MotoVersionError`` (one line) when moto
    is missing or is not ``TESTED_MOTO`` (nor the version ``HEALSTACK_UNTESTED_MOTO`` names)."""
    version = installed_moto()
    if version is None:
        raise MotoVersionError(
            f"{_PURPOSE} needs moto {TESTED_MOTO}, which is not installed: {INSTALL_HINT}"
        )
    if version != TESTED_MOTO and version != os.environ.get(UNTESTED_ENV):
        raise MotoVersionError(
            f"{_PURPOSE} is built and tested against moto {TESTED_MOTO}, found moto {version}: "
            f"{INSTALL_HINT} (or {UNTESTED_ENV}={version} to try it anyway)"
        )
    return version
