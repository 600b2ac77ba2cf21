"""``healstack module build``: the recoveries as a plain, self-contained Terraform module.

For platform repos that do not use cdktf: ``module "recovery" { source = "./module" }``.

How: the playbooks are synthesized through the very constructs the stacks use
(``RecoveryWorkflow`` and the AWS provider), one per playbook in one stack, and the stack's
JSON is then post-processed:

* the provider configuration and the backend go (a module must not configure either;
  ``required_providers`` stays, so the caller's provider must be within the proven range);
* chosen literals become inputs: each playbook is synthesized with a sentinel name prefix
  of its own, and every occurrence of ``<sentinel>-<playbook>`` becomes
  ``${local.name_<playbook>}`` (``join("-", [var.name_prefix, playbook, var.stage])``);
  a sentinel region becomes the caller's region; the log groups' retention
  ``var.log_retention_days``; the resources' tags ``merge(managed-by, var.tags)``; the
  playbooks' email subscriptions one ``for_each`` over ``var.notify_emails``;
* the function zips move into ``functions/<playbook>/<key>.zip`` referenced through
  ``${path.module}`` (same bytes, same ``source_code_hash``).

Why not cdktf ``TerraformVariable``s: the values feed code that needs literals at
synthesis time: AWS's name-length limits are checked before any cloud code runs, emails
are validated by the playbook model, the provider builds policies and the dashboard from
names. Post-processing keeps one synthesis path (the module's resources are the stacks'
resources, byte for byte, but for the substituted values) and a sentinel left anywhere
fails the build. The name limits become variable validations instead.

The functions are deployed by ``terraform apply`` (no pipeline): the ``live`` alias
follows each apply, which is what a module consumer expects.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from healstack import __version__
from healstack.errors import PlaybookError, UsageError
from healstack.modules.compile import function_keys
from healstack.playbook import EMAIL_PATTERN, Playbook
from healstack.providers import registry
from healstack.providers.interfaces import MANAGED_BY, DeploymentSettings
from healstack.settings import WORD_PATTERN
from healstack.synth import check_names, staged_output

#: Terraform >= 1.9: a variable's validation may refer to other variables (name lengths)
REQUIRED_TERRAFORM = ">= 1.9.0"
#: each playbook's sentinel name prefix (as long as the default prefix "healstack")
SENTINEL_PREFIX = "hsname{:03d}"
SENTINEL_REGION = "hs-sentinel-region-9"
#: the retention CloudWatch Logs accepts (days)
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
FUNCTIONS_DIR = "functions"
#: what marks a folder as a module this command built (it may be replaced)
GENERATOR = "healstack module build"
FILES = ("main.tf.json", "variables.tf.json", "outputs.tf.json", "README.md")


@dataclass(frozen=True)
class Input:
    name: str
    type: str
    default: Any
    description: str
    #: (condition, error message), Terraform expressions
    validations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Output:
    name: str
    description: str


@dataclass(frozen=True)
class ModuleResult:
    out_dir: Path
    playbooks: tuple[str, ...]
    resources: int
    files: tuple[str, ...] = field(default=())


def hcl_string(value: str) -> str:
    """``value`` as a quoted string literal inside a Terraform expression."""
    return json.dumps(value)  # HCL string escapes are JSON's for what we write


def local_name(playbook: str) -> str:
    return "name_" + playbook.replace("-", "_")


def base_expression(playbook: str) -> str:
    """What ``DeploymentSettings.base_name`` computes, in Terraform."""
    return (
        f"join({hcl_string('-')}, compact([var.name_prefix, {hcl_string(playbook)}, "
        f"var.stage == null ? {hcl_string('')} : var.stage]))"
    )


def max_base_length(playbook: Playbook) -> int:
    """The longest ``<prefix>-<playbook>[-<stage>]`` whose every name AWS accepts."""
    rules = registry.naming_rules("aws")
    keys = function_keys(playbook)
    best = 0
    for length in range(1, 256):
        settings = DeploymentSettings(name_prefix="a" * length)
        if rules.problems(playbook.name, keys, settings):
            break
        best = len(settings.base_name(playbook.name))
    return best


def naming_inputs(
    length_checks: Sequence[tuple[str, str]], *, prefix: str, stage: str
) -> tuple[Input, Input, Input]:
    """``name_prefix``, ``stage`` (with the names' length checks) and ``tags``: the inputs
    the recovery module and the member module share, each described for its module."""
    return (
        Input(
            "name_prefix",
            "string",
            "healstack",
            prefix,
            (
                (
                    f"${{can(regex({hcl_string(WORD_PATTERN)}, var.name_prefix))}}",
                    "name_prefix must be 1-20 lower-case letters, digits or -, starting "
                    "with a letter.",
                ),
            ),
        ),
        Input(
            "stage",
            "string",
            None,
            stage,
            (
                (
                    f"${{var.stage == null || can(regex({hcl_string(WORD_PATTERN)}, var.stage))}}",
                    "stage must be 1-20 lower-case letters, digits or -, starting with a "
                    "letter (e.g. sandbox, prod).",
                ),
                *length_checks,
            ),
        ),
        Input(
            "tags",
            "map(string)",
            {},
            f"Tags on every resource that takes tags, beside `managed-by = "
            f'"{MANAGED_BY["managed-by"]}"`; your provider\'s `default_tags` apply too.',
        ),
    )


def inputs(playbooks: Sequence[Playbook]) -> list[Input]:
    """The module's variables: one definition for the blocks and the README."""
    length_checks = tuple(
        (
            f"${{length({base_expression(pb.name)}) <= {max_base_length(pb)}}}",
            f'name_prefix and stage make the names of playbook "{pb.name}" too long for AWS: '
            f'"<name_prefix>-{pb.name}-<stage>" may have at most {max_base_length(pb)} '
            "characters (shorten the prefix or the stage).",
        )
        for pb in playbooks
    )
    defaults = {pb.name: list(pb.notify.emails) for pb in playbooks}
    names = [pb.name for pb in playbooks]
    return [
        *naming_inputs(
            length_checks,
            prefix="Starts every resource name: `<name_prefix>-<playbook>[-<stage>]`.",
            stage=(
                "Ends every resource name (e.g. `sandbox`, `prod`), so two stages never share "
                "a resource; null: no stage."
            ),
        ),
        Input(
            "log_retention_days",
            "number",
            DeploymentSettings().log_retention_days,
            "Retention of every log group (the functions' and the workflow's).",
            (
                (
                    f"${{contains([{', '.join(map(str, LOG_RETENTION_DAYS))}], "
                    "var.log_retention_days)}",
                    "log_retention_days must be a retention CloudWatch Logs accepts: "
                    f"{', '.join(map(str, LOG_RETENTION_DAYS))}.",
                ),
            ),
        ),
        Input(
            "notify_emails",
            "map(list(string))",
            {},
            "Playbook name -> the email addresses subscribed to its topic. A playbook not "
            "listed keeps its own `notify.emails`: "
            + "; ".join(f"`{n}`: {', '.join(e) if e else 'none'}" for n, e in defaults.items())
            + ".",
            (
                (
                    "${alltrue([for name in keys(var.notify_emails) : contains("
                    f"[{', '.join(hcl_string(n) for n in names)}], name)])}}",
                    "notify_emails: every key must be a playbook of this module: "
                    f"{', '.join(names)}.",
                ),
                (
                    "${alltrue([for email in flatten(values(var.notify_emails)) : "
                    f"can(regex({hcl_string(EMAIL_PATTERN.pattern)}, email))])}}",
                    "notify_emails: every address must look like name@example.com.",
                ),
            ),
        ),
    ]


#: the stacks' outputs (``RecoveryWorkflow.outputs``), each a map by playbook in the module
OUTPUTS = (
    Output("state_machine_arns", "playbook name -> its state machine ARN (the workflow)"),
    Output("rule_names", "playbook name -> the EventBridge rule that starts it"),
    Output("topic_arns", "playbook name -> the SNS topic outcomes and alarms go to"),
    Output("dlq_urls", "playbook name -> the dead-letter queue URL (events not taken)"),
)


def build_module(playbooks: Sequence[Playbook], out_dir: Path) -> ModuleResult:
    """Write the module into ``out_dir``, replacing it whole (or leaving it untouched)."""
    if not playbooks:
        raise UsageError("module build: give at least one playbook")
    _check_out(out_dir)
    check_names(playbooks, DeploymentSettings(), "aws")  # the defaults must fit
    for playbook in playbooks:
        if SENTINEL_PREFIX[:6] in playbook.model_dump_json():
            raise PlaybookError("", f'"{SENTINEL_PREFIX[:6]}" is reserved (module build)')
    out_dir = out_dir.resolve()
    with (
        staged_output(out_dir) as module,
        tempfile.TemporaryDirectory(prefix=f".{out_dir.name}.synth-", dir=out_dir.parent) as tmp,
    ):
        synthesized = Path(tmp) / "synth"  # the stacks the module is cut from; not kept
        doc = _synthesize(playbooks, synthesized)
        module.mkdir()
        result = _write(doc, synthesized / "stacks" / "module", module, playbooks)
    return ModuleResult(out_dir, result.playbooks, result.resources, result.files)


def _check_out(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir}: is a file (give a folder)")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        main = out_dir / "main.tf.json"
        try:
            built = json.loads(main.read_text())["//"]["generator"] == GENERATOR
        except (OSError, ValueError, KeyError, TypeError):
            built = False
        if not built:
            raise UsageError(
                f"--out {out_dir}: exists and is not a module healstack built "
                "(give a new or empty folder; it is replaced whole)"
            )


def _synthesize(playbooks: Sequence[Playbook], out: Path) -> dict[str, Any]:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from healstack.cdk import App, TerraformOutput, TerraformStack
    from healstack.modules.recovery_workflow import RecoveryWorkflow

    provider = registry.provider("aws")
    app = App(outdir=str(out), stack_traces=False)
    stack = TerraformStack(app, "module")
    provider.configure_stack(stack, DeploymentSettings(region=SENTINEL_REGION))  # dropped
    values: dict[str, dict[str, str]] = {}
    for index, playbook in enumerate(playbooks):
        settings = DeploymentSettings(
            name_prefix=SENTINEL_PREFIX.format(index), region=SENTINEL_REGION, pipeline=False
        )
        # the emails become a for_each over var.notify_emails
        quiet = playbook.model_copy(
            update={"notify": playbook.notify.model_copy(update={"emails": []})}
        )
        recovery = RecoveryWorkflow(
            stack, playbook.name, playbook=quiet, provider=provider, settings=settings
        )
        for name, (value, _description) in recovery.outputs().items():
            values.setdefault(f"{name}s", {})[playbook.name] = value
    if sorted(values) != sorted(o.name for o in OUTPUTS):  # a new output: describe it here
        raise RuntimeError(f"module build: outputs {sorted(values)} are not OUTPUTS")
    for output in OUTPUTS:
        TerraformOutput(
            stack, output.name, value=values[output.name], description=output.description
        )
    app.synth()
    loaded: dict[str, Any] = json.loads((out / "stacks" / "module" / "cdk.tf.json").read_text())
    return loaded


def _strings(value: Any, change: Any) -> Any:
    """``value`` with ``change`` applied to every string in it (keys untouched)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_strings(v, change) for v in value]
    if isinstance(value, dict):
        return {k: _strings(v, change) for k, v in value.items()}
    return value


def _blocks(doc: dict[str, Any], section: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for kind, blocks in doc.get(section, {}).items():
        for name, block in blocks.items():
            yield kind, name, block


def _owner(block: dict[str, Any]) -> list[str]:
    """The construct path of a block below the stack: ``[playbook, ...]``."""
    path: str = block["//"]["metadata"]["path"]
    return path.split("/")[1:]


def _write(
    doc: dict[str, Any], stack_dir: Path, module: Path, playbooks: Sequence[Playbook]
) -> ModuleResult:
    doc.pop("provider", None)
    doc.pop("//", None)
    terraform = doc["terraform"]
    terraform.pop("backend", None)
    terraform["required_version"] = REQUIRED_TERRAFORM
    names = {pb.name: index for index, pb in enumerate(playbooks)}

    # the functions' zips, inside the module
    for kind, _name, block in _blocks(doc, "resource"):
        if kind == "aws_lambda_function":
            owner, folder, _ = _owner(block)
            key = folder.removeprefix("fn-")
            target = Path(FUNCTIONS_DIR) / owner / f"{key}.zip"
            (module / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(stack_dir / block["filename"], module / target)
            block["filename"] = f"${{path.module}}/{target.as_posix()}"

    # log retention and tags become inputs
    for kind, _name, block in _blocks(doc, "resource"):
        if kind == "aws_cloudwatch_log_group":
            block["retention_in_days"] = "${var.log_retention_days}"
        if block.get("tags") == dict(MANAGED_BY):
            block["tags"] = "${local.tags}"

    # one email subscription per address in var.notify_emails (default: the playbook's)
    topics = doc["output"]["topic_arns"]["value"]
    subscriptions = doc["resource"].setdefault("aws_sns_topic_subscription", {})
    for playbook in playbooks:
        defaults = ", ".join(hcl_string(e) for e in playbook.notify.emails)
        subscriptions[f"{playbook.name}_notify-emails"] = {
            "for_each": (
                f"${{toset(lookup(var.notify_emails, {hcl_string(playbook.name)}, [{defaults}]))}}"
            ),
            "topic_arn": topics[playbook.name],
            "protocol": "email",
            "endpoint": "${each.value}",
        }

    # names and region: the sentinels become references
    first_region = next(n for k, n, _ in _blocks(doc, "data") if k == "aws_region")

    def substitute(text: str) -> str:
        for name, index in names.items():
            text = text.replace(
                f"{SENTINEL_PREFIX.format(index)}-{name}", f"${{local.{local_name(name)}}}"
            )
        return text.replace(SENTINEL_REGION, "${local.region}")

    for section in ("resource", "data", "output"):
        doc[section] = _strings(doc.get(section, {}), substitute)
    leftover = [s for s in ("hsname", SENTINEL_REGION, "assets/") if s in json.dumps(doc)]
    if leftover:  # a name was transformed where the module cannot follow: a healstack bug
        raise RuntimeError(f"module build: {leftover[0]!r} left in the module")

    doc["locals"] = {
        "region": f"${{data.aws_region.{first_region}.name}}",
        "tags": f"${{merge({{{hcl_string('managed-by')}: "
        f"{hcl_string(MANAGED_BY['managed-by'])}}}, var.tags)}}",
        **{local_name(pb.name): f"${{{base_expression(pb.name)}}}" for pb in playbooks},
    }
    module_outputs = doc.pop("output")
    main = {
        "//": {"generator": GENERATOR, "healstack": __version__, "edit": "rebuild, do not edit"},
        **{k: doc[k] for k in ("terraform", "locals", "data", "resource")},
    }
    variables = {"variable": {i.name: _variable(i) for i in inputs(playbooks)}}
    count = sum(len(blocks) for blocks in doc["resource"].values())
    return write_module_files(
        module, main, variables, module_outputs, readme(playbooks, count), names, count
    )


def write_module_files(
    module: Path,
    main: dict[str, Any],
    variables: dict[str, Any],
    outputs: dict[str, Any],
    readme_text: str,
    names: Iterable[str],
    resources: int,
) -> ModuleResult:
    """A module's four files (``main``, ``variables``, ``outputs``, README) into ``module``."""
    _dump(module / "main.tf.json", main)
    _dump(module / "variables.tf.json", variables)
    _dump(module / "outputs.tf.json", {"output": outputs})
    (module / "README.md").write_text(readme_text, encoding="utf-8")
    files = tuple(sorted(str(p.relative_to(module)) for p in module.rglob("*") if p.is_file()))
    return ModuleResult(module, tuple(names), resources, files)


def _variable(item: Input) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": item.type,
        "description": item.description,
        "default": item.default,
    }
    block["nullable"] = item.default is None
    if item.validations:
        block["validation"] = [
            {"condition": condition, "error_message": message}
            for condition, message in item.validations
        ]
    return block


def _dump(path: Path, value: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _default_text(value: Any) -> str:
    return "null" if value is None else f"`{json.dumps(value)}`"


def readme(playbooks: Sequence[Playbook], resource_count: int) -> str:
    """The module's README: its inputs and outputs, from the same definitions."""
    from healstack.providers.aws.versions import DEFAULT_CONSTRAINT

    names = [pb.name for pb in playbooks]
    first = names[0]
    lines = [
        "# healstack recovery module",
        "",
        f"Generated by `{GENERATOR}` (healstack {__version__}); rebuild it, do not edit it.",
        f"Playbooks: {', '.join(f'`{n}`' for n in names)} ({resource_count} resources).",
        "",
        "Each playbook: an EventBridge rule (with its dead-letter queue) starts a Step "
        "Functions state machine whose steps are short Lambda functions; outcomes and alarms "
        "go to an SNS topic; a DynamoDB table holds the lock and the audit history; one KMS "
        "key encrypts it all. The functions only call AWS APIs: no VPC is involved.",
        "",
        "The module configures no provider and no backend: your root module does (region, "
        "credentials, `default_tags`, where the state lives). It needs Terraform "
        f"`{REQUIRED_TERRAFORM}` and `hashicorp/aws` `{DEFAULT_CONSTRAINT}` (the versions "
        "healstack proves). `terraform apply` deploys the "
        "functions (the `live` alias the workflow invokes follows each apply).",
        "",
        "```hcl",
        'module "recovery" {',
        '  source = "./module"',
        "",
        '  name_prefix        = "acme"',
        '  stage              = "prod"',
        '  tags               = { team = "platform" }',
        "  log_retention_days = 400",
        f'  notify_emails      = {{ "{first}" = ["oncall@example.com"] }}',
        "}",
        "",
        'output "recovery_workflow" {',
        f'  value = module.recovery.state_machine_arns["{first}"]',
        "}",
        "```",
        "",
    ]
    return "\n".join([*lines, *interface_tables(inputs(playbooks), OUTPUTS)])


def interface_tables(
    items: Sequence[Input], outputs: Sequence[Output], required: Collection[str] = ()
) -> list[str]:
    """A module README's Inputs and Outputs tables (``required`` inputs have no default)."""
    lines = [
        "## Inputs",
        "",
        "| name | type | default | description |",
        "| --- | --- | --- | --- |",
    ]
    for item in items:
        default = "required" if item.name in required else _default_text(item.default)
        lines.append(
            f"| `{item.name}` | `{item.type}` | {default} | {item.description.replace('|', '/')} |"
        )
    lines += ["", "## Outputs", "", "| name | description |", "| --- | --- |"]
    lines += [f"| `{output.name}` | {output.description} |" for output in outputs]
    return [*lines, ""]
