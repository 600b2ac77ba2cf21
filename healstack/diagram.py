"""A state machine definition (Amazon States Language, as a dict) drawn as Mermaid.

Pure and derived: every state becomes a node and every transition in the definition an
edge, so the picture cannot drift from what runs.

- ``Next`` -> a plain edge; ``End`` -> an edge to the terminal ``End`` node
- ``Choices[].Next`` -> an edge labelled with the rule's condition; ``Default`` -> "default"
- ``Catch[].Next`` -> a dotted edge labelled with the caught error names
- ``Fail`` / ``Succeed`` states are terminal nodes (styled)

Output is ``flowchart TD``, which GitHub renders natively in Markdown and PR comments.
Only the top level is drawn; a Parallel or Map state is one node.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

START = "start"
END = "finish"  # "end" is a Mermaid keyword

_SHAPES = {
    "Task": ('["', '"]'),
    "Choice": ('{"', '"}'),
    "Wait": ('[/"', '"/]'),
    "Pass": ('("', '")'),
    "Succeed": ('(["', '"])'),
    "Fail": ('(["', '"])'),
    "Parallel": ('[["', '"]]'),
    "Map": ('[["', '"]]'),
}
_CLASSES = {
    "Fail": ("fail", "fill:#fde2e2,stroke:#c0392b,color:#000"),
    "Succeed": ("succeed", "fill:#dff5e1,stroke:#27ae60,color:#000"),
}
_COMPARATORS = (
    ("GreaterThanEquals", ">="),
    ("LessThanEquals", "<="),
    ("GreaterThan", ">"),
    ("LessThan", "<"),
    ("Equals", "=="),
    ("Matches", "matches"),
)


def to_mermaid(definition: Mapping[str, Any]) -> str:
    """The definition as Mermaid ``flowchart TD`` text (ends with a newline)."""
    states: Mapping[str, Mapping[str, Any]] = definition["States"]
    ids = {name: f"s{index}" for index, name in enumerate(states)}
    lines = [
        "flowchart TD",
        "  %% generated from the state machine definition (healstack diagram); do not edit",
        f'  {START}(("trigger"))',
    ]
    for name, state in states.items():
        left, right = _SHAPES.get(state.get("Type", ""), ('["', '"]'))
        lines.append(f"  {ids[name]}{left}{_text(name)}{right}")
    lines.append(f'  {END}((("End")))')
    lines.append(f"  {START} --> {ids[definition['StartAt']]}")
    for source, target, label, dotted in edges(definition):
        arrow = "-.->" if dotted else "-->"
        to = END if target is None else ids[target]
        text = f'|"{_text(label)}"|' if label else ""
        lines.append(f"  {ids[source]} {arrow}{text} {to}")
    for kind, (css, style) in _CLASSES.items():
        members = [ids[n] for n, s in states.items() if s.get("Type") == kind]
        if members:
            lines.append(f"  classDef {css} {style}")
            lines.append(f"  class {','.join(members)} {css}")
    return "\n".join(lines) + "\n"


def edges(definition: Mapping[str, Any]) -> Iterator[tuple[str, str | None, str, bool]]:
    """Every transition: (from, to or None for End, label, dotted), in definition order."""
    for name, state in definition["States"].items():
        for rule in state.get("Choices", []):
            yield name, rule["Next"], condition_text(rule), False
        if "Default" in state:
            yield name, state["Default"], "default", False
        if "Next" in state:
            yield name, state["Next"], "", False
        if state.get("End") is True:
            yield name, None, "", False
        for catch in state.get("Catch", []):
            yield name, catch["Next"], ", ".join(catch["ErrorEquals"]), True


def condition_text(rule: Mapping[str, Any]) -> str:
    """A Choice rule as a short readable condition: ``ctx.attempt < 3``."""
    if "And" in rule:
        return " and ".join(_grouped(r) for r in rule["And"])
    if "Or" in rule:
        return " or ".join(_grouped(r) for r in rule["Or"])
    if "Not" in rule:
        return f"not {_grouped(rule['Not'])}"
    variable = _path(rule.get("Variable", "?"))
    for key, value in rule.items():
        if key in ("Variable", "Next"):
            continue
        if key.startswith("Is"):  # IsPresent, IsNull, IsString, ...
            what = key[2:].lower()
            return f"{variable} is {what}" if value else f"{variable} is not {what}"
        operand = key.removesuffix("Path")
        shown = _path(value) if key.endswith("Path") else _value(value)
        for suffix, symbol in _COMPARATORS:
            if operand.endswith(suffix):
                return f"{variable} {symbol} {shown}"
    return variable


def _grouped(rule: Mapping[str, Any]) -> str:
    text = condition_text(rule)
    return f"({text})" if any(k in rule for k in ("And", "Or")) else text


def _path(path: Any) -> str:
    text = str(path)
    return text[2:] if text.startswith("$.") else text


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)


def _text(text: str) -> str:
    """Safe inside a quoted Mermaid label."""
    return (
        text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )
