"""AWS's own published sample events (tests/data/aws-events, sources in its SOURCES.md): each
names the resource expected.tsv says, or is refused as unsupported, never guessed.

Resolved as ResolveTarget resolves them, without the account, region and age checks: the
samples are years old and come from documentation accounts (those checks have tests of their
own in test_events.py and tests/simulate/test_safety.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from healstack_lambda.errors import MalformedEvent
from healstack_lambda.events import resolve
from tests.conftest import REPO

SAMPLES = REPO / "tests" / "data" / "aws-events"
#: a sample's kind by its file name's prefix (the longest that fits)
KIND = {
    "alarm": "ec2_instance",
    "ec2": "ec2_instance",
    "health": "ec2_instance",
    "ecs": "ecs_service",
    "rds-instance": "rds_instance",
    "rds-cluster": "aurora_cluster",
}


def kind_of(name: str) -> str:
    return KIND[max((p for p in KIND if name.startswith(p + "-")), key=len)]


def expectations() -> list[Any]:
    rows = (SAMPLES / "expected.tsv").read_text().splitlines()[1:]
    out = []
    for row in rows:
        name, expect, resource, *_why = row.split("\t")
        out.append(pytest.param(name, expect, resource, id=name.removesuffix(".json")))
    return out


def resolved(name: str) -> str:
    event = json.loads((SAMPLES / name).read_text())
    payload = {
        "event": event,
        "target_kind": kind_of(name),
        "id_path": None,
        "execution_id": "sample",
        "playbook": "samples",
    }
    return str(resolve(payload, {}, check_age=False, check_origin=False)["resource_id"])


@pytest.mark.parametrize(("name", "expect", "resource"), expectations())
def test_each_aws_sample_resolves_as_expected(name: str, expect: str, resource: str) -> None:
    if expect == "recover":
        assert resolved(name) == resource
    else:
        with pytest.raises(MalformedEvent):
            resolved(name)


def test_every_sample_is_listed() -> None:
    listed = {row.split("\t")[0] for row in (SAMPLES / "expected.tsv").read_text().splitlines()[1:]}
    assert listed == {p.name for p in SAMPLES.glob("*.json")}
