#!/usr/bin/env python3
"""Summarize Terraform plans for a pull-request comment (Markdown on stdout).

Reads a folder written by ``scripts/plan_stacks.py``, per stack ``<stack>.json``
(``terraform show -json`` of the saved plan), optionally ``<stack>.txt`` (the plan's
``-no-color`` text), ``<stack>.error`` (why planning failed), ``<stack>.mmd`` (the
workflow diagram, ``healstack diagram``), ``<stack>.explain`` (the bounds of one recovery,
``healstack explain --short``) and ``review.settings`` (the stage and the playbook globs
the review ran with, shown first). Prints one comment body: a table of adds, changes and
destroys per stack, every resource to be REPLACED or DESTROYED called out loudly, each
stack's changes and plan text folded away, the bounds of each stack that changes, and the
workflow diagrams.

    python3 scripts/plan_summary.py --dir plan [--note TEXT] > plan/summary.md

Standard library only (it runs before any virtual environment exists).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the first line of the comment; scripts/pr_comment.py finds the comment to update by it
MARKER = "<!-- healstack:plan-summary -->"
#: GitHub rejects comments over 65,536 characters; plan text is cut to fit
MAX_COMMENT = 65_000
MAX_PLAN_TEXT = 12_000
#: written by scripts/plan_stacks.py: {"stage": ..., "playbooks": "GLOBS", "files": [...]}
SETTINGS_FILE = "review.settings"


@dataclass
class StackPlan:
    name: str
    creates: list[str] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    #: (address, why: the attributes that force it, or Terraform's reason)
    replaces: list[tuple[str, str]] = field(default_factory=list)
    forgets: list[str] = field(default_factory=list)
    error: str | None = None
    text: str | None = None
    diagram: str | None = None
    explain: str | None = None
    planned: bool = False

    @property
    def add(self) -> int:
        """Terraform's own count: a replacement is one add and one destroy."""
        return len(self.creates) + len(self.replaces)

    @property
    def change(self) -> int:
        return len(self.updates)

    @property
    def destroy(self) -> int:
        return len(self.deletes) + len(self.replaces)


def summarize(name: str, plan: Mapping[str, Any]) -> StackPlan:
    """Classify a ``terraform show -json`` plan's managed resource changes."""
    out = StackPlan(name, planned=True)
    for change in plan.get("resource_changes", []):
        if change.get("mode", "managed") != "managed":
            continue  # data sources are read, never changed
        address = change["address"]
        actions = list(change.get("change", {}).get("actions", []))
        if sorted(actions) == ["create", "delete"]:
            out.replaces.append((address, _replace_reason(change)))
        elif actions == ["create"]:
            out.creates.append(address)
        elif actions == ["update"]:
            out.updates.append(address)
        elif actions == ["delete"]:
            out.deletes.append(address)
        elif actions == ["forget"]:
            out.forgets.append(address)
    return out


def _replace_reason(change: Mapping[str, Any]) -> str:
    paths = change.get("change", {}).get("replace_paths") or []
    names = sorted({".".join(str(p) for p in path) for path in paths if path})
    if names:
        return "forced by " + ", ".join(f"`{n}`" for n in names)
    reason = change.get("action_reason", "")
    return reason.replace("_", " ") if reason else "replacement requested"


def load(folder: Path) -> list[StackPlan]:
    """Every stack with any file in ``folder``, sorted by name."""
    names = sorted(
        {p.stem for p in folder.iterdir() if p.suffix in (".json", ".txt", ".error", ".mmd")}
    )
    stacks = []
    for name in names:
        plan_file = folder / f"{name}.json"
        stack = (
            summarize(name, json.loads(plan_file.read_text()))
            if plan_file.is_file()
            else StackPlan(name)
        )
        stack.error = _read(folder / f"{name}.error")
        stack.text = _read(folder / f"{name}.txt")
        stack.diagram = _read(folder / f"{name}.mmd")
        stack.explain = _read(folder / f"{name}.explain")
        stacks.append(stack)
    return stacks


def _read(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


def load_settings(folder: Path) -> dict[str, Any] | None:
    """What ``review.settings`` in ``folder`` says, or None when there is none."""
    path = folder / SETTINGS_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else None


def settings_line(settings: Mapping[str, Any]) -> str:
    """``Stage `prod` · 3 playbooks from `playbooks/*.yaml```: what this plan is of."""
    stage = settings.get("stage")
    files = settings.get("files") or []
    count = f"{len(files)} playbook{'' if len(files) == 1 else 's'}"
    where = f"`{settings.get('playbooks')}`"
    return f"{f'Stage `{stage}`' if stage else 'No stage'} · {count} from {where}"


def render(
    stacks: Sequence[StackPlan],
    note: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> str:
    lines = [MARKER, "## healstack: Terraform plan", ""]
    if settings is not None:
        lines += [settings_line(settings), ""]
    if note:
        lines += [f"> {note}", ""]
    planned = [s for s in stacks if s.planned or s.error]
    if planned:
        lines += [
            "| stack | add | change | destroy | replace |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for s in planned:
            if s.error is not None:
                lines.append(f"| `{s.name}` | - | - | - | **plan failed** |")
            else:
                replaced = f"**{len(s.replaces)}**" if s.replaces else "0"
                lines.append(f"| `{s.name}` | {s.add} | {s.change} | {s.destroy} | {replaced} |")
        lines.append("")
    lines += _loud(stacks)
    for s in planned:
        lines += _details(s)
    changed = [s for s in stacks if not s.planned or s.add or s.change or s.destroy]
    bounded = [s for s in changed if s.explain]
    if bounded:
        lines += ["## Bounds of one recovery (`healstack explain`)", ""]
        for s in bounded:
            lines += [f"- {line}" for line in (s.explain or "").strip().splitlines()] + [""]
    diagrams = [s for s in stacks if s.diagram]
    if diagrams:
        lines += ["## Workflow", ""]
        for s in diagrams:
            lines += [
                "<details>",
                f"<summary><code>{s.name}</code> state machine</summary>",
                "",
                "```mermaid",
                (s.diagram or "").rstrip("\n"),
                "```",
                "",
                "</details>",
                "",
            ]
    return _fit("\n".join(lines).rstrip("\n") + "\n")


def _loud(stacks: Iterable[StackPlan]) -> list[str]:
    out: list[str] = []
    failed = [s for s in stacks if s.error is not None]
    replaced = [(s.name, a, why) for s in stacks for a, why in s.replaces]
    destroyed = [(s.name, a) for s in stacks for a in s.deletes]
    for s in failed:
        out += [
            "> [!CAUTION]",
            f"> **Planning `{s.name}` FAILED**:",
            *(f"> {line}" for line in (s.error or "").strip().splitlines()[-15:]),
            "",
        ]
    if replaced:
        out += [
            "> [!CAUTION]",
            f"> **{len(replaced)} resource(s) will be REPLACED** (destroyed, then created anew:"
            " new ids and ARNs, state and data lost):",
            *(f"> - `{stack}`: `{address}` ({why})" for stack, address, why in replaced),
            "",
        ]
    if destroyed:
        out += [
            "> [!WARNING]",
            f"> **{len(destroyed)} resource(s) will be DESTROYED**:",
            *(f"> - `{stack}`: `{address}`" for stack, address in destroyed),
            "",
        ]
    return out


def _details(s: StackPlan) -> list[str]:
    if s.error is not None:
        body = [f"```\n{s.error.strip()}\n```"]
        summary = f"<code>{s.name}</code>: plan failed"
    else:
        rows = [
            *(f"| replace | `{a}` |" for a, _ in s.replaces),
            *(f"| destroy | `{a}` |" for a in s.deletes),
            *(f"| update | `{a}` |" for a in s.updates),
            *(f"| create | `{a}` |" for a in s.creates),
            *(f"| forget | `{a}` |" for a in s.forgets),
        ]
        body = ["| action | resource |", "| --- | --- |", *rows] if rows else ["No changes."]
        summary = (
            f"<code>{s.name}</code>: {s.add} to add, {s.change} to change, {s.destroy} to destroy"
        )
        if s.text:
            text = s.text.strip()
            if len(text) > MAX_PLAN_TEXT:
                text = text[:MAX_PLAN_TEXT] + "\n... (cut; the full plan is in the job log)"
            body += [
                "",
                "<details><summary>plan output</summary>",
                "",
                "```",
                text,
                "```",
                "",
                "</details>",
            ]
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]


def _fit(text: str) -> str:
    if len(text) <= MAX_COMMENT:
        return text
    return text[: MAX_COMMENT - 80] + "\n\n... (cut to fit a comment; see the job summary)\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Summarize Terraform plans as Markdown.")
    parser.add_argument("--dir", type=Path, required=True, help="scripts/plan_stacks.py --out")
    parser.add_argument("--note", help="a line shown on top (e.g. why no plan ran)")
    args = parser.parse_args(argv)
    if not args.dir.is_dir():
        print(f"plan_summary: error: {args.dir}: no such folder", file=sys.stderr)
        return 2
    sys.stdout.write(render(load(args.dir), args.note, load_settings(args.dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
