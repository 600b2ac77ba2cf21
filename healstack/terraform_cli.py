"""Terraform CLI set-up: use an offline provider mirror when this machine has one.

Machines without internet carry the AWS provider in a filesystem mirror; the project
then points ``TF_CLI_CONFIG_FILE`` at its own CLI config. Where no mirror exists the
user's normal registry set-up is left alone. ``python -m healstack.terraform_cli`` prints
the config path to export (or nothing).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: where mirrors are looked for, first hit wins; HEALSTACK_TF_MIRROR overrides
MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "~/.terraform.d/plugins",
)
PROVIDER_DIR = "registry.terraform.io/hashicorp/aws"


def find_mirror() -> Path | None:
    override = os.environ.get("HEALSTACK_TF_MIRROR")
    candidates = [override] if override else list(MIRROR_CANDIDATES)
    for candidate in candidates:
        path = Path(candidate).expanduser()
        if (path / PROVIDER_DIR).is_dir():
            return path
    return None


def cli_config(mirror: Path) -> str:
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror}"\n'
        '    include = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "}\n"
    )


def write_cli_config(folder: Path) -> Path | None:
    """Write the CLI config into ``folder`` when a mirror exists; return its path."""
    mirror = find_mirror()
    if mirror is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "terraform.rc"
    path.write_text(cli_config(mirror), encoding="utf-8")
    return path


def terraform_env(folder: Path) -> dict[str, str]:
    """``os.environ`` plus the mirror config, if any, for running terraform."""
    env = dict(os.environ)
    config = write_cli_config(folder)
    if config is not None:
        env["TF_CLI_CONFIG_FILE"] = str(config)
    elif env.get("TF_CLI_CONFIG_FILE") and not Path(env["TF_CLI_CONFIG_FILE"]).exists():
        env.pop("TF_CLI_CONFIG_FILE")  # a dangling setting only produces warnings
    env.setdefault("TF_IN_AUTOMATION", "1")
    return env


if __name__ == "__main__":
    written = write_cli_config(Path(sys.argv[1] if len(sys.argv) > 1 else ".healstack"))
    if written is not None:
        print(written.resolve())
