"""Deployment settings from the command line, and the state backend from ``healstack.toml``,
checked like playbook fields (one line naming the setting and the fix)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from healstack.errors import UsageError
from healstack.providers.interfaces import DeploymentSettings, Hub

if TYPE_CHECKING:  # cdktf starts the jsii runtime: keep `validate` free of it
    from healstack.cdk import TerraformStack

#: prefix and stage: what every physical name is built from (the module's variables too)
WORD_PATTERN = r"^[a-z][a-z0-9-]{0,19}$"
_WORD = re.compile(WORD_PATTERN)
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d$"

_LOCAL_ENDPOINT = re.compile(r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d{1,5}/?$")

#: read from the working directory (where ``./dev``, ``cdktf synth`` and ``python main.py``
#: run) unless ``--config`` names another file; absent, the defaults hold
CONFIG_FILE = "healstack.toml"
DEFAULT_KEY_PREFIX = "healstack/"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KEY_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]*$")

BackendKind = Literal["local", "s3"]


#: the environment variable that stands in for each command-line setting when the option is
#: not given. ``cdktf synth|diff|deploy`` run ``python main.py`` with no arguments (the ``app``
#: of ``cdktf.json``), so this is how a stage or an emulator endpoint reaches them; an option
#: always wins, and an empty variable counts as unset
SETTINGS_ENV = {
    "prefix": "HEALSTACK_PREFIX",
    "stage": "HEALSTACK_STAGE",
    "region": "HEALSTACK_REGION",
    "aws_endpoint": "HEALSTACK_AWS_ENDPOINT",
    "aws_provider_version": "HEALSTACK_AWS_PROVIDER_VERSION",
}
#: tags on every resource: ``KEY=VALUE`` pairs, comma-separated (AWS tags cannot hold a comma)
TAGS_ENV = "HEALSTACK_TAGS"
SETTINGS_DEFAULTS: dict[str, str | None] = {
    "prefix": "healstack",
    "stage": None,
    "region": "us-east-1",
    "aws_endpoint": None,
    "aws_provider_version": None,
}


def settings_from_options(
    options: Mapping[str, str | None],
    environ: Mapping[str, str],
    tags: Sequence[str] | None = None,
) -> DeploymentSettings:
    """Each setting from its option, else its ``SETTINGS_ENV`` variable, else the default;
    a bad value's error names where it came from (``--stage`` or ``HEALSTACK_STAGE``).
    ``tags``: the ``--tag KEY=VALUE`` options; without any, ``$HEALSTACK_TAGS``."""
    values: dict[str, str | None] = {}
    labels: dict[str, str] = {}  # how each value was given: its --option or its variable
    for name, variable in SETTINGS_ENV.items():
        labels[name] = "--" + name.replace("_", "-")
        values[name] = options.get(name)
        if values[name] is None:
            if environ.get(variable):
                values[name], labels[name] = environ[variable], variable
            else:
                values[name] = SETTINGS_DEFAULTS[name]
    prefix, stage, region = values["prefix"], values["stage"], values["region"]
    assert prefix is not None and region is not None  # defaults are set
    settings = _checked_settings(
        prefix, stage, region, values["aws_endpoint"], labels, values["aws_provider_version"]
    )
    if tags:
        parsed = parse_tags(tags, "--tag")
    else:
        pairs = [pair.strip() for pair in environ.get(TAGS_ENV, "").split(",")]
        parsed = parse_tags([pair for pair in pairs if pair], TAGS_ENV)
    return replace(settings, tags=parsed) if parsed else settings


def parse_tags(pairs: Sequence[str], label: str) -> dict[str, str]:
    """``KEY=VALUE`` strings (split at the first ``=``) as a sorted mapping; a key given twice
    is an error, not a silent overwrite. The cloud's limits are the provider's (``synth``)."""
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f'{label} "{pair}" is not a tag (use KEY=VALUE, e.g. team=platform)')
        if key in tags:
            raise UsageError(f'{label}: the tag "{key}" is given twice (keep one value)')
        tags[key] = value.strip()
    return dict(sorted(tags.items()))


def _checked_settings(
    prefix: str,
    stage: str | None,
    region: str,
    aws_endpoint: str | None,
    label: Mapping[str, str],
    aws_provider_version: str | None = None,
) -> DeploymentSettings:
    """``label``: how each setting was given, for the errors."""
    if not _WORD.match(prefix):
        raise UsageError(
            f'{label["prefix"]} "{prefix}" is not a name prefix '
            "(use 1-20 lower-case letters, digits, -)"
        )
    if stage is not None and not _WORD.match(stage):
        raise UsageError(
            f'{label["stage"]} "{stage}" is not a stage name (use e.g. sandbox, dev, prod)'
        )
    if not re.match(REGION_PATTERN, region):
        raise UsageError(f'{label["region"]} "{region}" is not an AWS region (use e.g. us-east-1)')
    options = {}
    if aws_endpoint is not None:
        if not _LOCAL_ENDPOINT.match(aws_endpoint):
            raise UsageError(
                f'{label["aws_endpoint"]} "{aws_endpoint}" is not a local emulator address '
                "(use e.g. http://127.0.0.1:5000)"
            )
        options = {"aws": {"endpoint": aws_endpoint.rstrip("/")}}
    if aws_provider_version is not None:
        from healstack.providers.aws.versions import check_user_choice

        problem = check_user_choice(aws_provider_version)
        if problem is not None:
            raise UsageError(f"{label['aws_provider_version']}: {problem}")
        options = {"aws": {**options.get("aws", {}), "version": aws_provider_version.strip()}}
    return DeploymentSettings(
        name_prefix=prefix, stage=stage, region=region, provider_options=options
    )


@dataclass(frozen=True)
class StateBackend:
    """Where each stack keeps its Terraform state.

    ``local`` (default): ``terraform.<stack>.tfstate`` beside the output folder. ``s3``: the
    object ``<key_prefix><stack>.tfstate`` in ``bucket``, encrypted, with Terraform's native
    S3 state locking (``use_lockfile``, Terraform >= 1.11), for teams. The stack's name ends
    with its stage, so every stage has its own state file or key.
    """

    kind: BackendKind = "local"
    bucket: str | None = None
    region: str | None = None
    key_prefix: str = DEFAULT_KEY_PREFIX

    def key(self, stack_name: str) -> str:
        return f"{self.key_prefix}{stack_name}.tfstate"

    def configure(self, stack: TerraformStack) -> None:
        """Write this backend into ``stack`` (s3 only; local is ``RecoveryStack``'s default)."""
        from healstack.cdk import S3Backend

        assert self.kind == "s3" and self.bucket and self.region
        S3Backend(
            stack,
            bucket=self.bucket,
            key=self.key(stack.node.id),
            region=self.region,
            encrypt=True,
        )
        # cdktf 0.21 predates use_lockfile (Terraform 1.10+): S3-native locking, no DynamoDB
        stack.add_override("terraform.backend.s3.use_lockfile", True)


_STATE_KEYS = ("backend", "bucket", "region", "key_prefix")


def load_state_backend(config: Path | None, default_region: str) -> StateBackend:
    """The ``[state]`` table of ``config`` (or of ``./healstack.toml`` when it exists)."""
    path = config if config is not None else Path(CONFIG_FILE)
    if config is None and not path.is_file():
        return StateBackend()
    if not path.is_file():
        raise UsageError(f"--config {path}: no such file (check the path)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - set(CONFIG_TABLES))
    if unknown:
        raise UsageError(
            f"{path}: [{unknown[0]}]: unknown table (healstack.toml has "
            f"{', '.join(f'[{t}]' for t in CONFIG_TABLES)})"
        )
    return _state(path, data.get("state", {}), default_region)


#: the tables of healstack.toml
CONFIG_TABLES = ("state", "access", "hub")
#: ``[access]``: who, besides the account root, may do what (the provider's principal ids)
ACCESS_KEYS = {
    # may upload the pipeline's source archive (everything else is refused by the bucket)
    "pipeline_uploaders": "pipeline_uploaders",
    # may subscribe endpoints to the recovery's topic
    "topic_subscriber_admins": "topic_subscriber_admins",
}


def load_access(config: Path | None) -> dict[str, tuple[str, ...]]:
    """The ``[access]`` table of ``config`` (or ``./healstack.toml``): setting -> principals.
    Each principal is checked by the provider (``NamingRules.principal_problem``)."""
    path = config if config is not None else Path(CONFIG_FILE)
    if not path.is_file():
        return {}  # load_state_backend has already said why, if the file was asked for
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    table = data.get("access", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: access: is not a table (write [access] and its keys below)")
    found: dict[str, tuple[str, ...]] = {}
    for key in sorted(table):
        if key not in ACCESS_KEYS:
            raise UsageError(
                f"{path}: access.{key}: unknown setting (use {', '.join(ACCESS_KEYS)})"
            )
        value = table[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise UsageError(
                f'{path}: access.{key}: is not a list of principals (["arn:aws:iam::...:role/x"])'
            )
        if len(set(value)) != len(value):
            raise UsageError(f"{path}: access.{key}: lists a principal twice (list each once)")
        found[ACCESS_KEYS[key]] = tuple(value)
    return found


#: ``[hub]``: this deployment is the recovery account of the listed members
HUB_KEYS = ("members", "regions", "organization_id")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ORGANIZATION_ID = re.compile(r"^o-[a-z0-9]{10,32}$")


def load_hub(config: Path | None) -> Hub | None:
    """The ``[hub]`` table of ``config`` (or ``./healstack.toml``); None without one (a
    single-account deployment, as before)."""
    path = config if config is not None else Path(CONFIG_FILE)
    if not path.is_file():
        return None  # load_state_backend has already said why, if the file was asked for
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    if "hub" not in data:
        return None
    return hub_from_table(path, data["hub"])


def hub_from_table(path: Path | str, table: Any) -> Hub:
    """``[hub]`` checked key by key: one line naming the key and the fix."""
    if not isinstance(table, dict):
        raise UsageError(f"{path}: hub: is not a table (write [hub] and its keys below)")
    for key in sorted(table):
        if key not in HUB_KEYS:
            raise UsageError(f"{path}: hub.{key}: unknown setting (use {', '.join(HUB_KEYS)})")
    members = _string_list(path, "members", table.get("members"), "account ids")
    if not members:
        raise UsageError(
            f'{path}: hub.members: missing or empty (list the member account ids: ["111122223333"])'
        )
    for index, member in enumerate(members):
        if not _ACCOUNT_ID.match(member):
            raise UsageError(
                f'{path}: hub.members[{index}]: "{member}" is not a 12-digit account id '
                '(quote it: "111122223333")'
            )
    regions = _string_list(path, "regions", table.get("regions", []), "regions")
    for index, region in enumerate(regions):
        if not re.match(REGION_PATTERN, region):
            raise UsageError(
                f'{path}: hub.regions[{index}]: "{region}" is not an AWS region (use e.g. eu-west-1)'
            )
    organization = table.get("organization_id")
    if organization is not None and (
        not isinstance(organization, str) or not _ORGANIZATION_ID.match(organization)
    ):
        raise UsageError(
            f"{path}: hub.organization_id: {organization!r} is not an organisation id "
            '(use o- and 10-32 lower-case letters or digits, e.g. "o-a1b2c3d4e5")'
        )
    return Hub(tuple(sorted(members)), tuple(sorted(regions)), organization)


def _string_list(path: Path | str, key: str, value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise UsageError(f'{path}: hub.{key}: is not a list of {what} (["...", "..."])')
    if len(set(value)) != len(value):
        raise UsageError(f"{path}: hub.{key}: lists a value twice (list each once)")
    return list(value)


def _state(path: Path, table: Any, default_region: str) -> StateBackend:
    if not isinstance(table, dict):
        raise UsageError(f"{path}: state: is not a table (write [state] and its keys below)")
    for key in sorted(table):
        if key not in _STATE_KEYS:
            raise UsageError(f"{path}: state.{key}: unknown setting (use {', '.join(_STATE_KEYS)})")
        if not isinstance(table[key], str):
            raise UsageError(f'{path}: state.{key}: is not a string (quote it: "...")')
    kind = table.get("backend", "local")
    if kind not in ("local", "s3"):
        raise UsageError(f'{path}: state.backend: "{kind}" is not a backend (use local or s3)')
    if kind == "local":
        extra = sorted(set(table) - {"backend"})
        if extra:
            raise UsageError(
                f'{path}: state.{extra[0]}: only for backend = "s3" (remove it, or set it)'
            )
        return StateBackend()
    bucket = table.get("bucket")
    if bucket is None:
        raise UsageError(f"{path}: state.bucket: missing (the S3 bucket that holds the state)")
    if not _BUCKET.match(bucket):
        raise UsageError(f'{path}: state.bucket: "{bucket}" is not an S3 bucket name')
    region = table.get("region", default_region)
    if not re.match(REGION_PATTERN, region):
        raise UsageError(
            f'{path}: state.region: "{region}" is not an AWS region (use e.g. eu-west-1)'
        )
    prefix = table.get("key_prefix", DEFAULT_KEY_PREFIX)
    if prefix.startswith("/") or ".." in prefix or not _KEY_PREFIX.match(prefix):
        raise UsageError(
            f'{path}: state.key_prefix: "{prefix}" is not a key prefix (use e.g. healstack/)'
        )
    return StateBackend("s3", bucket, region, prefix)
