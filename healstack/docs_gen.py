"""The docs site's generated pages, and its build command.

    python -m healstack.docs_gen build [--strict] [--out DIR] [--config FILE]
    python -m healstack.docs_gen page reference/cli.md     # print one generated page

The reference pages are made from the code at every build, never committed, so they cannot
drift: the playbook reference from the model (``healstack.playbook``) and its JSON Schema
(``healstack.schema``, which also holds each field's prose), the command line from the
argparse parser (``healstack.cli.build_parser``), the target kinds from the kind registry
(:func:`kinds_table`), the outcomes and the default playbook's workflow from the compiled
state machine. ``mkdocs.yml`` names this file as a hook, so ``mkdocs build`` and
``mkdocs serve`` add the same pages. Needs the ``docs`` extra (mkdocs, mkdocs-material).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from healstack.durations import format_duration

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "mkdocs.yml"
DEFAULT_OUT = REPO / "site"
APPROVER_EXAMPLE = "arn:aws:iam::123456789012:role/oncall"


# --- the playbook reference -------------------------------------------------------------


def _model_paths() -> list[tuple[str, str]]:
    """(model class name, YAML path) for every model, Playbook first, in field order."""
    from pydantic import BaseModel

    from healstack.playbook import Playbook

    found: list[tuple[str, str]] = []

    def visit(model: type[BaseModel], path: str) -> None:
        found.append((model.__name__, path))
        for name, info in model.model_fields.items():
            for inner in _annotation_types(info.annotation):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    shape = str(info.annotation)
                    suffix = "[]" if "list[" in shape else ".<name>" if "dict[" in shape else ""
                    if all(seen != inner.__name__ for seen, _ in found):
                        visit(inner, f"{path}.{name}{suffix}".lstrip("."))

    visit(Playbook, "")
    return found


def _annotation_types(annotation: Any) -> list[Any]:
    args = getattr(annotation, "__args__", ())
    return [annotation, *[t for a in args for t in _annotation_types(a)]]


def _anchor(model: str) -> str:
    return model.lower()


def _type(prop: dict[str, Any]) -> str:
    """A field's type in words, from its JSON Schema."""
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return "duration" if name == "DurationText" else f"[{name}](#{_anchor(name)})"
    if "anyOf" in prop:
        options = [o for o in prop["anyOf"] if o.get("type") != "null"]
        refs = [o.get("$ref", "") for o in options]
        if any(r.endswith("/DurationText") for r in refs):
            return "duration"
        if len(options) == 2 and options[1].get("type") == "array":
            return f"{_type(options[0])} or list of {_type(options[0])}"
        return " or ".join(dict.fromkeys(_type(o) for o in options))
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object":
        values = prop.get("additionalProperties")
        if isinstance(values, dict):
            return f"map of {_type(values)}"
        return "mapping"
    if "const" in prop or "enum" in prop:
        return "string"
    return str(kind or "any")


def _rules(prop: dict[str, Any], duration: bool) -> list[str]:
    """A field's constraints in words, from its JSON Schema (nested anyOf included)."""
    rules: list[str] = []
    for option in prop.get("anyOf", []):
        if option.get("type") != "null":
            rules.extend(_rules(option, duration))
    low, high = prop.get("minimum"), prop.get("maximum")
    show: Callable[[int], str] = format_duration if duration else str
    if low is not None and high is not None:
        rules.append(f"{show(low)} to {show(high)}")
    elif low is not None:
        rules.append(f"at least {show(low)}")
    if "enum" in prop:
        rules.append("one of: " + ", ".join(f"`{v}`" for v in prop["enum"] if v is not None))
    if "const" in prop:
        rules.append(f"`{prop['const']}`")
    if "pattern" in prop and not duration:
        rules.append(f"matches `{prop['pattern']}`")
    if "maxLength" in prop:
        rules.append(f"at most {prop['maxLength']} characters")
    if "minItems" in prop:
        rules.append(f"at least {prop['minItems']} item(s)")
    if "maxItems" in prop:
        rules.append(f"at most {prop['maxItems']} items")
    if prop.get("uniqueItems"):
        rules.append("each listed once")
    if prop.get("minProperties") == prop.get("maxProperties") == 1:
        rules.append("exactly one entry")
    forbidden = prop.get("not", {})
    if "const" in forbidden:
        rules.append(f"not `{forbidden['const']}`")
    if "pattern" in forbidden:
        rules.append(f"no `{forbidden['pattern']}`")
    for key in ("items",):
        if isinstance(prop.get(key), dict):
            rules.extend(f"each: {r}" for r in _rules(prop[key], duration))
    return list(dict.fromkeys(rules))


def _default(model: str, field: str, duration: bool) -> str:
    from pydantic import BaseModel

    from healstack.schema import models

    info = models()[model].model_fields[field]
    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "its fields' defaults"
    if value is None:
        return "none"
    if value == "":
        return '`""`'
    if duration and isinstance(value, int):
        return f"`{format_duration(value)}`"
    return f"`{yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}`"


def _example(field: str, value: Any) -> str:
    """``field: value`` as a playbook would hold it (short collections in flow style)."""
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=None, width=88)
    text = text.removesuffix("...\n").strip()
    if "\n" not in text:
        return f"{field}: {text}"
    return f"{field}:\n" + "\n".join(f"  {line}" for line in text.splitlines())


#: fields whose values the target kind decides (the schema says so per kind, in its allOf)
BY_KIND: dict[tuple[str, str], tuple[str, ...]] = {
    ("Step", "check"): ("one of the [kind's checks](kinds.md)",),
    ("Step", "action"): ("one of the [kind's actions](kinds.md)",),
    ("Step", "params"): ("the [action's params](kinds.md), of their types",),
    ("WaitUntil", "state"): ("one of the [kind's states](kinds.md)",),
    ("Approval", "before"): ("each an action of the steps",),
}


def playbook_reference() -> str:
    """Every field of every playbook model: type, default, rule, what, example."""
    from healstack.schema import DURATIONS, field_docs, playbook_schema

    schema = playbook_schema()
    docs = field_docs()
    lines = [
        "# Playbook reference",
        "",
        "Generated at build time from the model (`healstack/playbook.py`), its JSON Schema "
        "(`healstack schema`) and the field prose in `healstack/schema.py`: it cannot drift "
        "from what `healstack validate` enforces. Rules JSON Schema cannot express (the last "
        "step is a check, the timeout covers every wait, ...) are in the field texts; see "
        "[Writing playbooks](../playbooks.md) for a whole playbook and the "
        "[kinds](kinds.md) for each kind's checks, actions and states.",
        "",
        "Durations are `30s`, `5m`, `2h`, `1h30m`, `2d` or whole seconds.",
        "",
    ]
    for model, path in _model_paths():
        owner = schema if model == "Playbook" else schema["$defs"][model]
        title = f"`{path}`" if path else "The top level"
        lines += [f"## {title} {{#{_anchor(model)}}}", ""]
        if owner.get("description"):
            lines += [" ".join(owner["description"].split()).replace("``", "`"), ""]
        lines += ["| field | type | default | rule |", "| --- | --- | --- | --- |"]
        for field, prop in owner["properties"].items():
            duration = (model, field) in DURATIONS
            rules = [*_rules(prop, duration), *BY_KIND.get((model, field), ())]
            rule = "; ".join(rules) or "-"
            lines.append(
                f"| [`{field}`](#{_anchor(model)}-{field}) | {_type(prop)} | "
                f"{_default(model, field, duration)} | {rule.replace('|', '&#124;')} |"
            )
        lines.append("")
        for field in owner["properties"]:
            dotted = f"{path}.{field}" if path else field
            lines += [f"### `{dotted}` {{#{_anchor(model)}-{field}}}", ""]
            doc = docs.get(model, {}).get(field)
            if doc is not None:  # a field without prose fails tests/docs, not the build
                lines += [doc.text, "", "```yaml", _example(field, doc.example), "```", ""]
    return "\n".join(lines)


# --- the command line -----------------------------------------------------------------


def _subcommands(
    parser: argparse.ArgumentParser, words: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*words, name), helps.get(name, ""), sub
                yield from _subcommands(sub, (*words, name))


def _usage(words: tuple[str, ...], parser: argparse.ArgumentParser) -> str:
    parts = ["healstack", *words]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            if isinstance(action, argparse._SubParsersAction):
                parts.append("{" + ",".join(action.choices) + "} ...")
            continue
        if not action.option_strings:
            value = str(action.metavar or action.dest)
            parts.append(f"{value} [{value} ...]" if action.nargs == "+" else value)
            continue
        flag = action.option_strings[-1]
        text = flag if action.nargs == 0 else f"{flag} {_metavar(action)}"
        parts.append(text if action.required else f"[{text}]")
    return " ".join(parts)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _metavar(action: argparse.Action) -> str:
    return str(action.metavar or action.dest.upper())


def _options_table(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.option_strings:
            name = ", ".join(f"`{o}`" for o in action.option_strings)
            value = "" if action.nargs == 0 else f"`{_metavar(action)}`"
        else:
            name, value = f"`{action.metavar or action.dest}`", "(positional)"
        notes = [str(action.help or "")]
        if action.required:
            notes.append("required")
        if isinstance(action, argparse._AppendAction) and "repeatable" not in notes[0]:
            notes.append("repeatable")
        if action.nargs == "+":
            notes.append("one or more")
        what = "; ".join(n for n in notes if n).replace("|", "&#124;")
        rows.append(f"| {name} | {value} | {what} |")
    if not rows:
        return ["No options."]
    return ["| option | value | what |", "| --- | --- | --- |", *rows]


def cli_reference() -> str:
    """Every subcommand of ``healstack``, its usage and options, from the parser itself."""
    from healstack.cli import build_parser
    from healstack.settings import SETTINGS_DEFAULTS, SETTINGS_ENV, TAGS_ENV

    parser = build_parser()
    lines = [
        "# Command line reference",
        "",
        "Generated at build time from the parser (`healstack/cli.py`). `./dev healstack ARGS` "
        "runs the command inside the project's venv. Exit 0 on success, 2 on bad input (one "
        "line on stderr, never a traceback), 1 on an internal error (`HEALSTACK_DEBUG=1` "
        "shows the traceback). See [Command line](../cli.md) for what the settings mean.",
        "",
        f"{parser.description}",
        "",
        "```text",
        _usage((), parser),
        "```",
        "",
        *_options_table(parser),
        "",
    ]
    for words, help_text, sub in _subcommands(parser, ()):
        if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
            lines += [f"## `healstack {' '.join(words)}`", "", _sentence(help_text), ""]
            continue
        lines += [
            f"## `healstack {' '.join(words)}`",
            "",
            _sentence(help_text),
            "",
            "```text",
            _usage(words, sub),
            "```",
            "",
            *_options_table(sub),
            "",
        ]
    lines += [
        "## Settings from the environment",
        "",
        "Each setting option has a variable that stands in for it when the option is not "
        "given (how `cdktf synth|diff|deploy`, which run `python main.py` with no arguments, "
        "get them); an option always wins, and an empty variable counts as unset.",
        "",
        "| option | variable | default |",
        "| --- | --- | --- |",
    ]
    for name, variable in SETTINGS_ENV.items():
        default = SETTINGS_DEFAULTS[name]
        shown = f"`{default}`" if default is not None else "none"
        lines.append(f"| `--{name.replace('_', '-')}` | `{variable}` | {shown} |")
    lines += [f"| `--tag KEY=VALUE` | `{TAGS_ENV}` (`k=v,k2=v2`) | none |", ""]
    return "\n".join(lines)


# --- target kinds, outcomes, the default workflow ----------------------------------------


def kinds_table() -> str:
    """The target kinds, their checks, actions (with params) and states, as Markdown: the
    one function that reads the kind registry for the docs."""
    from healstack.schema import target_kinds

    kinds = target_kinds()
    lines = [
        "# Target kinds",
        "",
        "Generated at build time from the kind registry (`healstack/kinds/`). A playbook's "
        "`target.kind` decides which checks, actions and `wait_until` states its steps may "
        "name; every action changes the resource, so it is subject to the scope, `dry_run`, "
        "the anti-flap budget and `approval`.",
        "",
        "| kind | what | checks | actions | event sources (without `id_path`) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kind in kinds.values():
        lines.append(
            f"| [`{kind.name}`](#{kind.name.replace('_', '-')}) | {kind.description} | "
            f"{', '.join(f'`{c}`' for c in kind.checks)} | "
            f"{', '.join(f'`{a}`' for a in kind.actions)} | "
            f"{', '.join(f'`{s}`' for s in kind.event_sources) or '-'} |"
        )
    lines.append("")
    for kind in kinds.values():
        what = kind.description[:1].upper() + kind.description[1:]
        lines += [f"## `{kind.name}` {{#{kind.name.replace('_', '-')}}}", "", f"{what}.", ""]
        lines += [
            "| operation | is a | what | params | AWS permissions (tag-scoped where it changes) |",
            "| --- | --- | --- | --- | --- |",
        ]
        for check in kind.check_ops:
            lines.append(
                f"| `{check.name}` | check | {check.description} | - | "
                f"{_permissions(kind.name, check.name)} |"
            )
        for action in kind.action_ops:
            params = ", ".join(
                f"`{name}` ({param.type}: {param.description})"
                for name, param in action.user_params().items()
            )
            lines.append(
                f"| `{action.name}` | action | {action.description} | {params or '-'} | "
                f"{_permissions(kind.name, action.name)} |"
            )
        lines += ["", f"States a check reports (for `wait_until`): {_codes(kind.states)}.", ""]
        skips = sorted({s for c in kind.check_ops for s in c.skips})
        if skips:
            lines += [f"Skip reasons (the `skipped` outcome, no action): {_codes(skips)}.", ""]
        for undo in kind.undoes:
            lines += [
                f"`{undo.action}` only undoes a `{undo.undoes}` made by the same attempt "
                "(`healstack validate` refuses it without one before it).",
                "",
            ]
        if kind.example:
            lines += ["```yaml", kind.example.strip("\n"), "```", ""]
    return "\n".join(lines)


def _permissions(kind: str, operation: str) -> str:
    """The IAM actions an operation's function holds (the kind's AWS unit), as Markdown."""
    from healstack.providers.aws import kinds as aws_kinds

    implementation = aws_kinds.get(kind).implementation(operation)
    actions = sorted({a for p in implementation.permissions for a in p.actions})
    return ", ".join(f"`{a}`" for a in actions)


def _codes(values: Sequence[str]) -> str:
    return ", ".join(f"`{v}`" for v in values)


def _definition(data: dict[str, Any]) -> dict[str, Any]:
    from healstack.loader import playbook_from_dict
    from healstack.modules.compile import compile_playbook
    from healstack.providers.aws.asl import render

    workflow = compile_playbook(playbook_from_dict(data)).workflow
    store = "store" if workflow.store is not None else None
    return render(workflow, {key: key for key in workflow.functions}, store)


def _outcomes_rows() -> list[str]:
    """One row per notify state of the default playbook with an approval and a fleet budget
    added: every path the compiler gives a recovery, read from the state machine it generates."""
    from healstack.loader import shipped_playbook_path

    data = yaml.safe_load(shipped_playbook_path().read_text(encoding="utf-8"))
    data["approval"] = {"before": ["stop"], "approvers": [APPROVER_EXAMPLE]}
    data["guard"] = {**data.get("guard", {}), "fleet": {"max_in_flight": 10, "max_per_hour": 50}}
    states: dict[str, dict[str, Any]] = _definition(data)["States"]
    rows = []
    for name, state in states.items():
        payload = state.get("Parameters", {}).get("Payload", {})
        if state.get("Type") != "Task" or "outcome" not in payload:
            continue
        nxt = states.get(state.get("Next", ""), {})
        if nxt.get("Type") == "Fail":
            ends = f"FAILED, `{nxt['Error']}`: {nxt.get('Cause', '')}"
        elif nxt.get("Type") == "Succeed":
            ends = f"SUCCEEDED: {nxt.get('Comment', '')}"
        else:
            ends = "SUCCEEDED"
        reason = payload.get("reason") or ("reason from the check" if "reason.$" in payload else "")
        rows.append(
            f"| `{payload['outcome']}` | `{name}` | {reason and f'`{reason}`'} | {ends} |".replace(
                "`reason from the check`", "the check's `skip`"
            )
        )
    return rows


def workflow_page() -> str:
    """The outcomes every recovery can end in, and the default playbook's state machine."""
    from healstack.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["diagram"])
    if code != 0:
        raise RuntimeError("healstack diagram failed")
    lines = [
        "# Outcomes and the workflow",
        "",
        "Generated at build time from the state machine the compiler writes "
        "(`modules/compile.py`, rendered by `providers/aws/asl.py`).",
        "",
        "## Outcomes",
        "",
        "Every path of a recovery ends in one notification, whose `outcome` is one of these "
        "(the default playbook with an `approval` and a `guard.fleet` added, so every path is "
        "present):",
        "",
        "| outcome | notify state | reason | the execution ends |",
        "| --- | --- | --- | --- |",
        *_outcomes_rows(),
        "",
        "Executions that time out or are aborted run no state of their own: the finalizer "
        "rule (on the state machine's `TIMED_OUT` and `ABORTED` executions) calls the notify "
        "function, which releases the lock and tells `timed_out` or `aborted`. If publishing "
        "itself fails, the lock is still released and the execution ends `NotificationFailed`.",
        "",
        "## The default playbook's workflow",
        "",
        "`healstack diagram` of `healstack/playbooks/ec2-status-check-recovery.yaml`: dotted "
        "edges are Catch paths, labelled with the errors they catch.",
        "",
        "```mermaid",
        out.getvalue().rstrip("\n"),
        "```",
        "",
    ]
    return "\n".join(lines)


#: the pages made at build time: docs path -> its generator
GENERATED: dict[str, Callable[[], str]] = {
    "reference/playbook.md": playbook_reference,
    "reference/cli.md": cli_reference,
    "reference/kinds.md": kinds_table,
    "reference/workflow.md": workflow_page,
}


# --- the mkdocs hook and the build command ------------------------------------------------


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """mkdocs hook: add the generated pages (a page of the same name in docs/ is an error)."""
    from mkdocs.structure.files import File

    for path, make in GENERATED.items():
        if files.get_file_from_path(path) is not None:
            raise RuntimeError(f"docs/{path} is generated at build time: delete the file")
        files.append(File.generated(config, path, content=make()))
    return files


def build(out: Path, strict: bool, config: Path = CONFIG) -> None:
    """``mkdocs build`` of ``config`` into ``out``; strict: any warning (a broken link or
    anchor, a page missing from the nav) fails the build."""
    import logging

    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config

    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("docs_gen: %(levelname)s: %(message)s"))
    logging.getLogger("mkdocs").addHandler(handler)
    loaded = load_config(str(config), strict=strict, site_dir=str(out.resolve()))
    mkdocs_build(loaded)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m healstack.docs_gen",
        description="Build the docs site, or print one of its generated pages.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build the docs site")
    build_cmd.add_argument("--strict", action="store_true", help="fail on any warning")
    build_cmd.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: site/")
    build_cmd.add_argument("--config", type=Path, default=CONFIG, help="default: mkdocs.yml")
    page = sub.add_parser("page", help="print one generated page")
    page.add_argument("path", choices=sorted(GENERATED))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "page":
        sys.stdout.write(GENERATED[args.path]())
        return 0
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        print(
            "docs_gen: error: mkdocs is not installed (pip install -e '.[docs]')", file=sys.stderr
        )
        return 2
    from mkdocs.exceptions import MkDocsException

    try:
        build(args.out, args.strict, args.config)
    except MkDocsException as exc:
        print(f"docs_gen: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a generator failed: the code it reads is broken
        if os.environ.get("HEALSTACK_DEBUG") == "1":
            raise
        print(
            f"docs_gen: error: {type(exc).__name__}: {exc} (HEALSTACK_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1
    print(f"docs: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
