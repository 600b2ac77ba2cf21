"""Every registered target kind is one complete unit in each layer, and the only place its
facts live (``healstack.catalog``'s docstring names the three units)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from moto import mock_aws

from healstack import catalog
from healstack.catalog import Action, Check, UnknownKind
from healstack.providers.aws import kinds as aws_kinds
from healstack.providers.aws.steps import STAR_RESOURCE_REASONS, implementation
from healstack.providers.interfaces import FunctionSpec
from healstack_lambda import kinds as runtime_kinds
from healstack_lambda.errors import InvalidInput, ResourceNotFound
from tests.conftest import REPO

KINDS = sorted(catalog.TARGET_KINDS)
OPERATIONS = [(name, op) for name in KINDS for op in catalog.TARGET_KINDS[name].operations()]


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    """The handlers' region; moto's test credentials (never a real account)."""
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")


def _id(value: object) -> str:
    return value.name if isinstance(value, Check | Action) else str(value)


def test_every_layer_registers_the_same_kinds() -> None:
    assert KINDS == sorted(aws_kinds.registry()) == sorted(runtime_kinds.registry())
    assert len(KINDS) >= 3


@pytest.mark.parametrize("name", KINDS)
def test_the_aws_unit_implements_exactly_the_kinds_operations(name: str) -> None:
    kind = catalog.kind(name)
    unit = aws_kinds.get(name)
    assert sorted(unit.operations) == sorted(op.name for op in kind.operations())
    assert unit.services, "a kind's handlers call at least one service"
    assert unit.arn.startswith("arn:{partition}:")
    for operation, impl in unit.operations.items():
        # the handler exists in the Lambda package
        module, function = impl.handler.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), function)), impl.handler
        resources = {p.resource for p in impl.permissions}
        for permission in impl.permissions:
            if permission.resource == "*":
                assert set(permission.actions) <= set(STAR_RESOURCE_REASONS)
            for action in permission.actions:
                assert action.split(":")[0] in {*unit.services, "ec2"}, action
        mutating = [p for p in impl.permissions if p.mutating]
        if isinstance(kind.operation(operation), Action):
            assert mutating, f"{name}.{operation} declares no mutating permission"
            assert all(p.resource != "*" for p in mutating), "a change is scoped to the kind"
        else:
            assert not mutating, f"check {name}.{operation} must only read"
        assert resources


@pytest.mark.parametrize("name", KINDS)
def test_the_runtime_unit_reads_the_event_sources_the_catalog_names(name: str) -> None:
    sources = {source for source, _ in runtime_kinds.get(name).shapes}
    assert sources == set(catalog.kind(name).event_sources)
    assert runtime_kinds.get(name).not_found_codes, "a kind says how AWS reports it missing"


@pytest.mark.parametrize(("name", "op"), OPERATIONS, ids=[f"{k}.{_id(o)}" for k, o in OPERATIONS])
def test_each_operation_takes_exactly_its_schema_params(name: str, op: Check | Action) -> None:
    """The handler refuses a param the schema lacks and takes every param it has (the run
    then gets past validation to AWS, where the resource does not exist)."""
    impl = aws_kinds.get(name).implementation(op.name)
    module, function = impl.handler.rsplit(".", 1)
    handler = getattr(importlib.import_module(module), function)
    sample = {"boolean": True, "integer": 1, "string": "x"}
    params = {k: sample[p.type] for k, p in getattr(op, "params", {}).items()}
    if isinstance(op, Check):
        params = {"expect_state": op.states[0]}
    resource_id = _valid_id(name)
    payload = {
        "playbook": "p",
        "execution_id": "e",
        "state": "S",
        "resource_id": resource_id,
        "attempt": 1,
        "dry_run": False,
    }
    with pytest.raises(InvalidInput, match="unknown params"):
        handler({**payload, "params": {**params, "not_a_param": True}}, None)
    with mock_aws(), pytest.raises(ResourceNotFound):
        handler({**payload, "params": params}, None)


def _valid_id(name: str) -> str:
    """An id of the kind's exact shape: found by the runtime unit from the kind's own
    sample event (examples/events/)."""
    import json

    from healstack_lambda.events import resolve

    sample = aws_kinds.get(name).simulation.sample_event
    event = json.loads((REPO / "examples" / "events" / sample).read_text())
    found = resolve(
        {"event": event, "target_kind": name, "execution_id": "e", "playbook": "p"},
        {},
        check_age=False,
        check_origin=False,
    )
    assert runtime_kinds.get(name).is_valid(found["resource_id"])
    return str(found["resource_id"])


@pytest.mark.parametrize("name", KINDS)
def test_the_simulator_seeds_and_reads_back_every_kind(name: str) -> None:
    import boto3

    unit = aws_kinds.get(name)
    with mock_aws():

        def client(service: str) -> object:
            return boto3.client(service, region_name="us-east-1")

        wanted = _valid_id(name)
        seeded = unit.simulation.seed(client, [wanted], [{"Key": "healstack", "Value": "on"}])
        assert list(seeded) == [wanted]
        state = unit.simulation.state(client, seeded[wanted])
        assert isinstance(state, str) and state


def test_an_unknown_kind_raises_in_every_layer() -> None:
    with pytest.raises(UnknownKind, match="'nope' is not a registered target kind"):
        catalog.kind("nope")
    with pytest.raises(UnknownKind):
        aws_kinds.get("nope")
    with pytest.raises(UnknownKind):
        implementation(FunctionSpec("check-status", "step", "nope", "status", ""))
    with pytest.raises(InvalidInput, match="target_kind 'nope' is not one of"):
        runtime_kinds.get("nope")


#: a kind's name may appear, as a string, only in its own units and handler module
PRODUCT = ("healstack", "modules", "providers", "lambda_src", "benchmarks", "scripts")


def _product_files() -> list[Path]:
    linked = (REPO / "healstack" / "modules", REPO / "healstack" / "providers")
    files = [p for top in PRODUCT for p in (REPO / top).rglob("*.py")]
    generated = REPO / "providers" / "aws" / "resources.py"  # the provider's own schema names
    return [
        p for p in files if p != generated and not any(p.is_relative_to(link) for link in linked)
    ]


@pytest.mark.parametrize("name", KINDS)
def test_a_kinds_facts_live_only_in_its_units(name: str) -> None:
    """No ``if kind == "..."`` anywhere else: the kind's name, quoted, appears only in its
    three units and its handler modules."""
    handlers = {
        REPO / "lambda_src" / (impl.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")
        for impl in aws_kinds.get(name).operations.values()
    }
    allowed = {
        REPO / "healstack" / "kinds" / f"{name}.py",
        REPO / "providers" / "aws" / "kinds" / f"{name}.py",
        REPO / "lambda_src" / "healstack_lambda" / "kinds" / f"{name}.py",
        *handlers,
    }
    quoted = re.compile(rf"""["']{re.escape(name)}["']""")
    offenders = [
        str(p.relative_to(REPO))
        for p in _product_files()
        if p not in allowed and quoted.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


@pytest.mark.parametrize("name", KINDS)
def test_the_docs_reference_lists_each_operation_with_its_permissions(name: str) -> None:
    """The kinds reference (generated from the registry at every docs build) names, in the
    kind's own section, every operation with its params and each IAM action it holds."""
    from healstack.docs_gen import kinds_table

    section = kinds_table().split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
    for operation, impl in aws_kinds.get(name).operations.items():
        (row,) = [line for line in section.splitlines() if line.startswith(f"| `{operation}` |")]
        for action in {a for p in impl.permissions for a in p.actions}:
            assert f"`{action}`" in row, (name, operation, action)
        op = catalog.kind(name).operation(operation)
        for param in op.user_params() if isinstance(op, Action) else ():
            assert f"`{param}`" in row, (name, operation, param)
