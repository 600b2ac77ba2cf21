"""What the simulator reads out of a synthesized stack (``cdk.tf.json``).

Terraform references (``${aws_lambda_alias.x.arn}``) become the ARNs and names moto gives the
same resources in its default account and ``us-east-1``; ``rehomed`` moves them into the
account and region an event names (a simulation runs where delivery would).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from healstack.errors import UsageError
from healstack.playbook import Playbook
from healstack.providers.interfaces import DeploymentSettings
from healstack.simulate.finalizer import STATUS_CHANGE, FinalizerRule

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
_TOKEN = re.compile(r"\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}")
#: the data sources a stack reads its partition and region from (a hub names member roles
#: and, by default, its own region with them): moto's ``aws`` and the simulation's region
_DATA = re.compile(r"\$\{data\.(aws_partition|aws_region)\.[A-Za-z0-9_-]+\.(partition|name)\}")
_RULE_NAME = re.compile(r"^\$\{aws_cloudwatch_event_rule\.([A-Za-z0-9_-]+)\.name\}$")


@dataclass(frozen=True)
class FunctionSettings:
    """A function's configured timeout and memory (the simulator's runtime honours both)."""

    timeout_s: int = 30
    memory_mb: int = 128


@dataclass(frozen=True)
class SynthesizedRecovery:
    """What the simulator needs from one synthesized stack, with references resolved.

    ``finalizer`` is the rule on "Step Functions Execution Status Change" events and its
    target (None if the stack has none); ``settings`` each function's timeout and memory.
    """

    definition: dict[str, Any]
    functions: dict[str, tuple[str, dict[str, str]]]  # name -> (handler, environment)
    topic_name: str
    table: dict[str, Any] | None
    state_machine_name: str
    finalizer: FinalizerRule | None = None
    settings: dict[str, FunctionSettings] = field(default_factory=dict)


def synthesized_recovery(stack_file: Path) -> SynthesizedRecovery:
    """Read a synthesized stack and resolve the references the simulator needs."""
    stack = json.loads(stack_file.read_text())
    resources: dict[str, dict[str, Any]] = stack.get("resource", {})
    resolve = _Resolver(resources).resolve
    machines = list(resources.get("aws_sfn_state_machine", {}).values())
    if len(machines) != 1:
        raise UsageError(f"{stack_file}: expected one state machine, found {len(machines)}")
    definition = json.loads(resolve(machines[0]["definition"]))
    functions = {}
    settings = {}
    for body in resources.get("aws_lambda_function", {}).values():
        variables = (body.get("environment") or {}).get("variables", {})
        functions[body["function_name"]] = (
            body["handler"],
            {k: resolve(str(v)) for k, v in variables.items()},
        )
        settings[body["function_name"]] = FunctionSettings(
            timeout_s=int(body.get("timeout", 30)), memory_mb=int(body.get("memory_size", 128))
        )
    topics = list(resources.get("aws_sns_topic", {}).values())
    tables = list(resources.get("aws_dynamodb_table", {}).values())
    return SynthesizedRecovery(
        definition=definition,
        functions=functions,
        topic_name=topics[0]["name"],
        table=tables[0] if tables else None,
        state_machine_name=machines[0]["name"],
        finalizer=_finalizer(resources, resolve),
        settings=settings,
    )


def rehomed(recovery: SynthesizedRecovery, account: str, region: str) -> SynthesizedRecovery:
    """The same recovery deployed in ``account`` and ``region``: every ARN the resolver built
    (``arn:aws:<service>:us-east-1:123456789012:...``) names them instead."""
    if (account, region) == (ACCOUNT, REGION):
        return recovery
    home, there = f":{REGION}:{ACCOUNT}:", f":{region}:{account}:"

    def move(value: Any) -> Any:
        return json.loads(json.dumps(value).replace(home, there))

    finalizer = recovery.finalizer
    if finalizer is not None:
        finalizer = replace(
            finalizer, pattern=move(finalizer.pattern), function=move(finalizer.function)
        )
    return replace(
        recovery,
        definition=move(recovery.definition),
        functions={
            name: (handler, move(environment))
            for name, (handler, environment) in recovery.functions.items()
        },
        finalizer=finalizer,
    )


def synthesize_for_simulation(
    playbook: Playbook, work: Path, settings: DeploymentSettings | None = None
) -> SynthesizedRecovery:
    """``settings``: e.g. a hub's (``DeploymentSettings.hub``); the defaults otherwise."""
    from healstack.synth import synthesize

    result = synthesize([playbook], work / "cdktf.out", settings)
    return synthesized_recovery(result.out_dir / "stacks" / result.stacks[0] / "cdk.tf.json")


class _Resolver:
    def __init__(self, resources: dict[str, dict[str, Any]]) -> None:
        self.resources = resources

    def resolve(self, text: str) -> str:
        text = _DATA.sub(lambda m: "aws" if m.group(1) == "aws_partition" else REGION, text)
        return _TOKEN.sub(lambda m: self.attribute(m.group(1), m.group(2), m.group(3)), text)

    def attribute(self, kind: str, name: str, attr: str) -> str:
        body = self.resources.get(kind, {}).get(name)
        if body is None:
            raise KeyError(f"{kind}.{name}")
        if kind == "aws_lambda_function":
            fn = body["function_name"]
            if attr in ("function_name", "id"):
                return str(fn)
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}"
        if kind == "aws_lambda_alias":
            fn = self.resolve(body["function_name"]).rsplit(":", 1)[-1]
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}:{body['name']}"
        if kind == "aws_sns_topic":
            if attr in ("arn", "id"):
                return f"arn:aws:sns:{REGION}:{ACCOUNT}:{body['name']}"
            return str(body["name"])
        if kind == "aws_dynamodb_table":
            if attr == "arn":
                return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{body['name']}"
            return str(body["name"])
        if kind == "aws_sfn_state_machine" and attr in ("arn", "id"):
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{body['name']}"
        if "name" in body and attr in ("name", "id"):
            return str(body["name"])
        raise KeyError(f"{kind}.{name}.{attr}")


def _finalizer(resources: dict[str, dict[str, Any]], resolve: Any) -> FinalizerRule | None:
    """The rule whose pattern matches status-change events, and its (first) target."""
    rules = resources.get("aws_cloudwatch_event_rule", {})
    for target in resources.get("aws_cloudwatch_event_target", {}).values():
        match = _RULE_NAME.match(str(target.get("rule", "")))
        rule = rules.get(match.group(1)) if match else None
        pattern = str((rule or {}).get("event_pattern", ""))
        if rule is None or STATUS_CHANGE not in pattern:
            continue
        return FinalizerRule(
            name=str(rule["name"]), pattern=resolve(pattern), function=resolve(target["arn"])
        )
    return None
