"""``healstack diagram``: Mermaid drawn from the generated definition, every state and edge."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from healstack.cli import main
from healstack.diagram import condition_text, to_mermaid
from tests.conftest import REPO, load_stack
from tests.pipeline.helpers import one

NODE = re.compile(r'^  (s\d+)\W+"(.+?)"\W*$')
EDGE = re.compile(r'^  (\w+) (-->|-\.->)(?:\|"(.*)"\|)? (\w+)$')


def expected_edges(definition: dict[str, Any]) -> set[tuple[str, str, str, bool]]:
    """Every transition of an ASL definition, computed here independently of the diagram."""
    out = {("trigger", definition["StartAt"], "", False)}
    for name, state in definition["States"].items():
        for target in [state.get("Next"), state.get("Default")]:
            if target:
                out.add((name, target, "default" if target == state.get("Default") else "", False))
        for rule in state.get("Choices", []):
            out.add((name, rule["Next"], "rule", False))
        for catch in state.get("Catch", []):
            out.add((name, catch["Next"], ", ".join(catch["ErrorEquals"]), True))
        if state.get("End"):
            out.add((name, "End", "", False))
    return out


def parse(mermaid: str) -> tuple[dict[str, str], set[tuple[str, str, str, bool]]]:
    """(node id -> state name, edges by state name) read back from the Mermaid text."""
    names = {"start": "trigger", "finish": "End"}
    edges = set()
    rules = set()
    for line in mermaid.splitlines():
        node = NODE.match(line)
        if node:
            names[node.group(1)] = node.group(2)
            continue
        edge = EDGE.match(line)
        if edge:
            source, arrow, label, target = edge.groups()
            edges.add((source, target, label or "", arrow == "-.->"))
    resolved = set()
    for source, target, label, dotted in edges:
        a, b = names[source], names[target]
        if not dotted and label not in ("", "default"):
            rules.add((a, b))
            label = "rule"
        resolved.add((a, b, label, dotted))
    return names, resolved


@pytest.fixture(scope="module")
def default_definition(default_stack: dict[str, Any]) -> dict[str, Any]:
    """The definition actually synthesized into the default stack."""
    definition: dict[str, Any] = json.loads(
        one(default_stack, "aws_sfn_state_machine")["definition"]
    )
    return definition


def cli_diagram(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["diagram", *args]) == 0
    return capsys.readouterr().out


def test_default_diagram_has_every_state_and_edge_of_the_synthesized_definition(
    default_definition: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    mermaid = cli_diagram(capsys)
    assert mermaid.startswith("flowchart TD\n")
    names, edges = parse(mermaid)
    assert set(names.values()) == {*default_definition["States"], "trigger", "End"}
    assert edges == expected_edges(default_definition)


def test_every_shipped_playbook_draws_its_synthesized_definition(
    synthesized: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for playbook in sorted((REPO / "healstack" / "playbooks").glob("*.yaml")):
        stack = load_stack(synthesized, playbook.stem)
        definition = json.loads(one(stack, "aws_sfn_state_machine")["definition"])
        names, edges = parse(cli_diagram(capsys, "--playbook", str(playbook)))
        assert set(names.values()) == {*definition["States"], "trigger", "End"}, playbook.name
        assert edges == expected_edges(definition), playbook.name


def test_catches_are_dotted_and_labelled_with_the_error_names() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Task",
                "Next": "B",
                "Catch": [
                    {"ErrorEquals": ["Custom.Error", "States.Timeout"], "Next": "Oops"},
                    {"ErrorEquals": ["States.ALL"], "Next": "Oops"},
                ],
            },
            "B": {"Type": "Succeed"},
            "Oops": {"Type": "Fail", "Error": "X", "Cause": "y"},
        },
    }
    mermaid = to_mermaid(definition)
    assert '  s0 -.->|"Custom.Error, States.Timeout"| s2' in mermaid
    assert '  s0 -.->|"States.ALL"| s2' in mermaid
    assert "  s0 --> s1" in mermaid
    assert '  s2(["Oops"])' in mermaid and "  class s2 fail" in mermaid
    assert '  s1(["B"])' in mermaid and "  class s1 succeed" in mermaid


def test_choices_are_labelled_with_their_conditions_and_the_default() -> None:
    definition = {
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.n", "NumericLessThan": 3, "Next": "Done"},
                    {
                        "Or": [
                            {"Variable": "$.s", "StringEquals": 'a"b'},
                            {"Not": {"Variable": "$.x", "IsPresent": True}},
                        ],
                        "Next": "Done",
                    },
                ],
                "Default": "Done",
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }
    mermaid = to_mermaid(definition)
    assert '  s0 -->|"n #lt; 3"| s1' in mermaid
    assert "  s0 -->|\"s == 'a#quot;b' or not x is present\"| s1" in mermaid
    assert '  s0 -->|"default"| s1' in mermaid
    assert "  s1 --> finish" in mermaid
    assert '  s0{"Pick"}' in mermaid


def test_condition_text_covers_the_comparison_families() -> None:
    assert condition_text({"Variable": "$.a", "BooleanEquals": True}) == "a == true"
    assert condition_text({"Variable": "$.a", "NumericGreaterThanEquals": 2}) == "a >= 2"
    assert condition_text({"Variable": "$.a", "StringMatches": "x*"}) == "a matches 'x*'"
    assert condition_text({"Variable": "$.a", "NumericEqualsPath": "$.b"}) == "a == b"
    assert condition_text({"Variable": "$.a", "IsNull": False}) == "a is not null"
    both = {
        "And": [
            {"Variable": "$.a", "NumericGreaterThanEquals": 2},
            {"Variable": "$.a", "NumericLessThanEquals": 3},
        ]
    }
    assert condition_text(both) == "a >= 2 and a <= 3"


def test_state_names_cannot_break_the_mermaid_syntax() -> None:
    definition = {
        "StartAt": 'Odd "name" <x> & y',
        "States": {'Odd "name" <x> & y': {"Type": "Succeed"}},
    }
    mermaid = to_mermaid(definition)
    assert '  s0(["Odd #quot;name#quot; #lt;x#gt; #amp; y"])' in mermaid


def test_a_bad_playbook_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad Name\n")
    assert main(["diagram", "--playbook", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "bad.yaml" in captured.err
