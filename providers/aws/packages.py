"""Which modules go into each handler's package, and the packages of every handler.

One code path for both consumers: synthesis (each function's asset) and ``healstack
package`` (the pipeline's Package stage). Bindings-free, so packaging never starts jsii.
A package's bytes depend only on its modules' content (``healstack.packaging``), so the zip
the pipeline ships for a handler is byte-identical to the asset synthesis put beside the
function that runs that handler: same ``source_code_hash``, no diff between the two.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from healstack import packaging
from healstack.providers.aws.steps import (
    ALL_IMPLEMENTATIONS,
    StepImplementation,
    handler_module,
    platform_handler,
)

#: written beside the zips: handler -> file and hash, what the Deploy stage reads
MANIFEST = "manifest.json"


def function_modules(impl: StepImplementation) -> list[str]:
    """The handler's own module plus every module that is no other handler's."""
    handlers = {handler_module(i.handler) for i in ALL_IMPLEMENTATIONS}
    own = handler_module(impl.handler)
    return [m for m in packaging.library_modules() if m == own or m not in handlers]


def handler_package(impl: StepImplementation) -> packaging.Package:
    """The package of one handler, named after it (``healstack_lambda.ec2.reboot.zip``)."""
    return packaging.package_modules(impl.handler, function_modules(impl))


def all_handler_packages() -> list[packaging.Package]:
    """One package per handler healstack ships, sorted by handler."""
    by_handler = {impl.handler: impl for impl in ALL_IMPLEMENTATIONS}
    return [handler_package(by_handler[h]) for h in sorted(by_handler)]


def platform_package(name: str, function: str, file: Path) -> packaging.Package:
    """A platform step's package: its one file, as the module ``<name>.py`` (line endings
    normalised, like healstack's own), named after its handler."""
    content = file.read_bytes().replace(b"\r\n", b"\n")
    return packaging.Package(
        platform_handler(name, function), packaging.build_zip([(f"{name}.py", content)])
    )


def write_all(
    out: Path, platform: Sequence[tuple[str, str, Path]] = ()
) -> list[tuple[Path, packaging.Package]]:
    """Every handler's zip, plus each platform step's (``(name, function, file)``), plus
    ``manifest.json`` into ``out``; same bytes on any machine."""
    packages = [*all_handler_packages(), *(platform_package(*step) for step in platform)]
    written = [(package.write(out), package) for package in packages]
    manifest = {
        "packages": {
            package.name: {"file": path.name, "sha256": package.sha256_base64}
            for path, package in written
        }
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return written
