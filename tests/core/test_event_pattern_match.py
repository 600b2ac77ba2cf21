"""``event_pattern.mismatch``: the bus's matching, so ``simulate`` can say when a playbook's
rule would never deliver an event (and why, naming the field)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from healstack.event_pattern import mismatch
from healstack.loader import load_playbook, shipped_playbook_path, shipped_playbooks
from tests.conftest import REPO

CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("literal", {"source": ["aws.ec2"]}, {"source": "aws.ec2"}, True),
    ("literal miss", {"source": ["aws.ec2"]}, {"source": "aws.rds"}, False),
    ("number", {"n": [5]}, {"n": 5.0}, True),
    ("bool is not a string", {"b": [True]}, {"b": "true"}, False),
    ("null", {"x": [None]}, {"x": None}, True),
    ("prefix", {"a": [{"prefix": "healstack-"}]}, {"a": "healstack-web"}, True),
    ("prefix miss", {"a": [{"prefix": "healstack-"}]}, {"a": "web"}, False),
    ("prefix ignore case", {"a": [{"prefix": {"equals-ignore-case": "HS-"}}]}, {"a": "hs-1"}, True),
    ("suffix", {"a": [{"suffix": ".png"}]}, {"a": "x.png"}, True),
    ("anything-but", {"a": [{"anything-but": ["x", "y"]}]}, {"a": "z"}, True),
    ("anything-but miss", {"a": [{"anything-but": "x"}]}, {"a": "x"}, False),
    ("anything-but missing field", {"a": [{"anything-but": "x"}]}, {}, False),
    ("anything-but prefix", {"a": [{"anything-but": {"prefix": "t"}}]}, {"a": "test"}, False),
    ("numeric range", {"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": 5}, True),
    ("numeric out", {"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": 6}, False),
    ("numeric not a number", {"n": [{"numeric": [">", 0]}]}, {"n": "7"}, False),
    ("exists", {"a": [{"exists": True}]}, {"a": "v"}, True),
    ("exists false", {"a": [{"exists": False}]}, {}, True),
    ("exists false present", {"a": [{"exists": False}]}, {"a": 1}, False),
    ("cidr", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.9"}, True),
    ("cidr miss", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.1.9"}, False),
    ("equals-ignore-case", {"a": [{"equals-ignore-case": "ALARM"}]}, {"a": "alarm"}, True),
    ("wildcard", {"a": [{"wildcard": "arn:*:instance/*"}]}, {"a": "arn:x:instance/i-1"}, True),
    ("wildcard miss", {"a": [{"wildcard": "a*c"}]}, {"a": "abd"}, False),
    ("event array", {"c": ["failure"]}, {"c": ["failover", "failure"]}, True),
    ("array of objects", {"m": {"k": ["x"]}}, {"m": [{"k": "y"}, {"k": "x"}]}, True),
    ("array of objects miss", {"m": {"k": ["x"]}}, {"m": [{"k": "y"}]}, False),
    ("nested missing", {"d": {"e": ["x"]}}, {"d": {}}, False),
    ("$or", {"$or": [{"a": ["1"]}, {"b": ["2"]}]}, {"b": "2"}, True),
    ("$or miss", {"$or": [{"a": ["1"]}, {"b": ["2"]}]}, {"b": "3"}, False),
]


@pytest.mark.parametrize(
    ("pattern", "event", "matches"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_matching_as_the_bus_does(pattern: Any, event: Any, matches: bool) -> None:
    assert (mismatch(pattern, event) is None) is matches


def test_a_mismatch_names_the_field_and_what_the_pattern_wants() -> None:
    pattern = {"detail": {"alarmName": [{"prefix": "healstack-"}]}}
    assert mismatch(pattern, {"detail": {"alarmName": "cpu"}}) == (
        'detail.alarmName is "cpu"; the pattern wants [{"prefix":"healstack-"}]'
    )
    assert mismatch(pattern, {"detail": {}}) == (
        'the event has no detail.alarmName (the pattern wants [{"prefix":"healstack-"}])'
    )


def test_each_shipped_playbook_takes_its_own_example_event() -> None:
    """The example events named for each shipped playbook are ones its rule delivers."""
    taken = {}
    for name in shipped_playbooks():
        playbook = load_playbook(shipped_playbook_path(name))
        taken[playbook.name] = sorted(
            path.name
            for path in (REPO / "examples" / "events").glob("*.json")
            if mismatch(playbook.trigger.event_pattern(), json.loads(path.read_text())) is None
        )
    assert all(taken.values()), taken


def test_no_example_event_starts_two_shipped_playbooks() -> None:
    """Two shipped playbooks never act on one event (each has its own lock table: both would
    act on the same resource at once). The EC2 and Auto Scaling playbooks take alarms with
    disjoint prefixes, healstack-ec2- and healstack-asg-."""
    patterns = {
        (p := load_playbook(shipped_playbook_path(n))).name: p.trigger.event_pattern()
        for n in shipped_playbooks()
    }
    events = sorted((REPO / "examples").rglob("events/*.json")) + sorted(
        (REPO / "tests" / "data" / "aws-events").glob("*.json")
    )
    for path in events:
        event = json.loads(path.read_text())
        starting = [name for name, pattern in patterns.items() if mismatch(pattern, event) is None]
        assert len(starting) <= 1, (path.name, starting)
    ec2 = patterns["ec2-status-check-recovery"]["detail"]["alarmName"]
    asg = patterns["asg-instance-recovery"]["detail"]["alarmName"]
    assert ec2 == [{"prefix": "healstack-ec2-"}] and asg == [{"prefix": "healstack-asg-"}]
