"""The ``healstack`` command. Exit 0 on success, 2 on bad input with one line on stderr."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from healstack import __version__
from healstack.catalog import NOT_TRIGGERED, OUTCOMES
from healstack.errors import HealstackError, UsageError
from healstack.event_pattern import mismatch
from healstack.loader import load_playbooks, shipped_playbook_path
from healstack.providers.interfaces import DeploymentSettings

DEFAULT_OUT = "cdktf.out"
#: the output folder the cdktf CLI asks its app for (``cdktf synth --output DIR``; it reads
#: the manifest from there), the default of ``synth --out``
CDKTF_OUTDIR_ENV = "CDKTF_OUTDIR"
EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1
#: ``simulate --expect``: the recovery ended in another outcome
EXIT_UNEXPECTED = 3


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, not a usage block."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="healstack",
        description="Compile recovery playbooks into bounded Step Functions workflows (cdktf).",
    )
    parser.add_argument("--version", action="version", version=f"healstack {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    validate = sub.add_parser("validate", help="validate playbooks; write nothing")
    validate.add_argument("playbooks", nargs="+", metavar="PLAYBOOK", type=Path)
    _settings_args(validate)

    synth = sub.add_parser("synth", help="synthesize one Terraform stack per playbook")
    _playbooks_option(synth)
    synth.add_argument(
        "--out",
        type=Path,
        default=Path(os.environ.get(CDKTF_OUTDIR_ENV) or DEFAULT_OUT),
        help=f"output folder; default: ${CDKTF_OUTDIR_ENV} (set by the cdktf CLI), else cdktf.out",
    )
    _settings_args(synth)
    synth.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help=(
            "the state backend ([state]) and who may upload or subscribe ([access]); "
            "default: ./healstack.toml when it exists"
        ),
    )

    module = sub.add_parser("module", help="the recoveries as a plain Terraform module")
    module_sub = module.add_subparsers(dest="module_command", required=True, parser_class=_Parser)
    build = module_sub.add_parser(
        "build",
        help="write a self-contained Terraform module (no provider, no backend) into DIR",
    )
    _playbooks_option(build)
    build.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="the module folder (replaced)"
    )
    build.add_argument(
        "--member",
        action="store_true",
        help="the member part instead (per playbook: a rule forwarding to the hub's bus, a "
        "role only the hub's steps can assume), for each member account and region",
    )

    simulate = sub.add_parser(
        "simulate",
        help="run a playbook's synthesized workflow locally (moto) with the real handlers",
    )
    simulate.add_argument(
        "--playbook",
        type=Path,
        default=None,
        metavar="FILE",
        help="default: the shipped EC2 status-check playbook",
    )
    simulate.add_argument("--event", type=Path, required=True, metavar="EVENT.json")
    simulate.add_argument(
        "--scenario",
        type=Path,
        default=None,
        metavar="FILE",
        help="forced step outcomes (YAML/JSON)",
    )
    simulate.add_argument(
        "--keep-event-time",
        action="store_true",
        help=(
            "keep the event's own time (by default it is run as if it arrived now; an old "
            "event is then refused as stale, as on AWS)"
        ),
    )
    simulate.add_argument(
        "--expect",
        choices=(*OUTCOMES, NOT_TRIGGERED),
        default=None,
        metavar="OUTCOME",
        help=(
            "exit 3 unless the recovery ends in this outcome (a platform's CI guard): "
            f"{', '.join((*OUTCOMES, NOT_TRIGGERED))}"
        ),
    )
    simulate.add_argument(
        "--ignore-trigger",
        action="store_true",
        help=(
            "run the recovery even when the playbook's trigger would not deliver the event "
            "(by default simulate says why and stops there, as EventBridge would)"
        ),
    )
    simulate.add_argument("--json", action="store_true", help="print JSON instead of text")
    simulate.add_argument("--verbose", action="store_true", help="show the handlers' JSON logs")
    simulate.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help=(
            "with a [hub] table, simulate the hub: the recovery in moto's default account, the "
            "event's target and member role in the event's (member) account; default: "
            "./healstack.toml when it exists"
        ),
    )

    diagram = sub.add_parser(
        "diagram", help="print a playbook's state machine as Mermaid (from its definition)"
    )
    diagram.add_argument(
        "--playbook",
        type=Path,
        metavar="FILE",
        help="a playbook file; default: the shipped EC2 status-check playbook",
    )

    for verb, what in (("approve", "approve"), ("reject", "reject")):
        decide = sub.add_parser(
            verb, help=f"{what} a pending approval request, as yourself (an approver)"
        )
        decide.add_argument("approval_id", metavar="ID", help="the id the request gave")
        decide.add_argument(
            "--playbook",
            type=Path,
            metavar="FILE",
            help="the recovery's playbook; default: the shipped EC2 status-check playbook",
        )
        decide.add_argument("--reason", default="", help="why (one line, kept in the history)")
        _settings_args(decide)

    sub.add_parser(
        "schema",
        help="print the playbook JSON Schema (for editors: yaml-language-server, VS Code)",
    )

    explain = sub.add_parser(
        "explain",
        help="bound one recovery from its generated workflow: time, transitions, calls, cost",
    )
    explain.add_argument("playbook", metavar="PLAYBOOK", type=Path)
    form = explain.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print JSON instead of a table")
    form.add_argument("--short", action="store_true", help="print the 3-5 line summary")

    package = sub.add_parser(
        "package", help="write every handler's reproducible zip and a manifest into DIR"
    )
    package.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    package.add_argument(
        "--platform-step",
        action="append",
        default=[],
        metavar="NAME=FILE:FUNCTION",
        help="also package a playbook's platform step (repeatable; the pipeline passes each)",
    )
    return parser


def _playbooks_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--playbook",
        dest="playbooks",
        action="append",
        type=Path,
        metavar="FILE",
        help="a playbook file (repeatable); default: the shipped EC2 status-check playbook",
    )


def _settings_args(parser: argparse.ArgumentParser) -> None:
    from healstack.settings import SETTINGS_DEFAULTS, SETTINGS_ENV, TAGS_ENV

    def described(name: str, text: str) -> str:
        default = SETTINGS_DEFAULTS[name]
        fallback = f"; default {default}" if default is not None else ""
        return f"{text} (else ${SETTINGS_ENV[name]}{fallback})"

    parser.add_argument("--prefix", help=described("prefix", "name prefix of every resource"))
    parser.add_argument("--stage", help=described("stage", "e.g. sandbox, dev, prod"))
    parser.add_argument("--region", help=described("region", "the AWS region"))
    parser.add_argument(
        "--tag",
        dest="tags",
        action="append",
        metavar="KEY=VALUE",
        help=f"a tag on every resource (repeatable; else ${TAGS_ENV}, comma-separated pairs)",
    )
    parser.add_argument(
        "--aws-provider-version",
        metavar="CONSTRAINT",
        help=described(
            "aws_provider_version",
            "the hashicorp/aws versions the stacks declare, within the proven range "
            "(e.g. 5.100.0 or '~> 6.0'); default: the whole proven range",
        ),
    )
    parser.add_argument(
        "--aws-endpoint",
        metavar="URL",
        help=described(
            "aws_endpoint",
            "synthesize for a local AWS emulator at URL (every service, test credentials)",
        ),
    )


def _settings(args: argparse.Namespace) -> DeploymentSettings:
    from healstack.settings import SETTINGS_ENV, settings_from_options

    options = {name: getattr(args, name) for name in SETTINGS_ENV}
    return settings_from_options(options, os.environ, args.tags)


def run(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    if args.command == "validate":
        from healstack.synth import check_names

        playbooks = load_playbooks(args.playbooks)
        check_names(playbooks, _settings(args), "aws")
        for playbook in playbooks:
            print(
                f"ok: {playbook.name} ({len(playbook.steps)} steps, {playbook.attempts.max} attempts)"
            )
        return EXIT_OK
    if args.command == "synth":
        from healstack.settings import load_state_backend
        from healstack.synth import synthesize

        paths = args.playbooks or [shipped_playbook_path()]
        playbooks = load_playbooks(paths)
        settings = _settings(args)
        state = load_state_backend(args.config, settings.region)
        settings = _with_access(settings, args.config)
        result = synthesize(playbooks, args.out, settings, state=state)
        for stack in result.stacks:
            print(f"synthesized: {args.out}/stacks/{stack}/cdk.tf.json")
        return EXIT_OK
    if args.command == "module":
        from healstack.tfmodule import build_module
        from healstack.tfmodule_member import build_member_module

        playbooks = load_playbooks(args.playbooks or [shipped_playbook_path()])
        built = (build_member_module if args.member else build_module)(playbooks, args.out)
        print(
            f"module: {args.out} ({', '.join(built.playbooks)}; {built.resources} resources, "
            "no provider, no backend)"
        )
        return EXIT_OK
    if args.command == "simulate":
        return _simulate(args)
    if args.command == "explain":
        return _explain(args)
    if args.command == "diagram":
        sys.stdout.write(_diagram(args.playbook or shipped_playbook_path()))
        return EXIT_OK
    if args.command == "schema":
        from healstack.schema import schema_text

        sys.stdout.write(schema_text())
        return EXIT_OK
    if args.command == "package":
        _package(args.out, [_platform_step(text) for text in args.platform_step])
        return EXIT_OK
    if args.command in ("approve", "reject"):
        return _decide(args)
    raise UsageError(f"unknown command {args.command}")  # pragma: no cover (argparse rejects)


def _diagram(path: Path) -> str:
    """The playbook's generated state machine definition, drawn by ``healstack.diagram``."""
    from healstack.diagram import to_mermaid
    from healstack.modules.compile import compile_playbook
    from healstack.providers.aws.asl import render

    (playbook,) = load_playbooks([path])
    workflow = compile_playbook(playbook).workflow
    store = "store" if workflow.store is not None else None  # names only, like the ARNs
    return to_mermaid(render(workflow, {key: key for key in workflow.functions}, store))


def _explain(args: argparse.Namespace) -> int:
    """``healstack explain``: the bounds; exit 1 when the workflow fails a check (a
    healstack bug: a path without a notification, an action outside the budget)."""
    from healstack.explain import explain_playbook, failures, render_json, render_table, short_form

    (playbook,) = load_playbooks([args.playbook])
    explanation = explain_playbook(playbook)
    if args.json:
        sys.stdout.write(render_json(explanation))
    elif args.short:
        print("\n".join(short_form(explanation)))
    else:
        sys.stdout.write(render_table(explanation))
    for failure in failures(explanation):
        print(f"healstack: explain: {playbook.name}: {failure}", file=sys.stderr)
    return EXIT_INTERNAL if failures(explanation) else EXIT_OK


def _with_access(settings: DeploymentSettings, config: Path | None) -> DeploymentSettings:
    """``[access]`` of healstack.toml: who may upload the pipeline's source, who may
    subscribe to the topic; each principal checked as the cloud would take it."""
    from dataclasses import replace

    from healstack.providers import registry
    from healstack.settings import CONFIG_FILE, load_access, load_hub

    hub = load_hub(config)  # [hub]: the recovery account of the listed members
    if hub is not None:
        settings = replace(settings, hub=hub)
    access = load_access(config)
    rules = registry.naming_rules("aws")
    for setting, principals in access.items():
        for index, principal in enumerate(principals):
            # the bucket policy matches uploaders with ArnLike; the topic's admins exactly
            wildcards = setting == "pipeline_uploaders"
            problem = rules.principal_problem(principal, wildcards=wildcards)
            if problem is not None:
                raise UsageError(f"{config or CONFIG_FILE}: access.{setting}[{index}]: {problem}")
    return replace(settings, **access) if access else settings  # type: ignore[arg-type]


def _decide(args: argparse.Namespace) -> int:
    """``healstack approve|reject ID``: the caller's own, signed decision; the recovery's
    decide function checks that the caller is one of the playbook's approvers."""
    from healstack.modules.compile import DECIDE_FUNCTION
    from healstack.providers.aws.approval_client import decision_url, send_decision

    (playbook,) = load_playbooks([args.playbook or shipped_playbook_path()])
    if playbook.approval is None:
        raise UsageError(f"{playbook.name} asks for no approval (it has no approval: block)")
    settings = _settings(args)
    endpoint = settings.provider_options.get("aws", {}).get("endpoint")
    url = decision_url(
        settings.base_name(playbook.name), DECIDE_FUNCTION, settings.region, endpoint
    )
    answer = send_decision(url, settings.region, args.approval_id, args.command, args.reason)
    if answer.status != 200:
        message = str(answer.body.get("message") or f"HTTP {answer.status}")
        raise UsageError(f"{args.command} {args.approval_id}: refused: {message}")
    body = answer.body
    print(
        f"{body.get('decision')}: {body.get('approval_id')} ({body.get('action')} of "
        f"{body.get('resource_id')}) by {body.get('decided_by')}"
    )
    return EXIT_OK


def _platform_step(text: str) -> tuple[str, str, Path]:
    """``NAME=FILE:FUNCTION`` -> (name, function, file), each checked."""
    import re

    match = re.fullmatch(r"([a-z][a-z0-9_]{0,30})=([^:=]+\.py):([A-Za-z_][A-Za-z0-9_]*)", text)
    if match is None:
        raise UsageError(
            f"--platform-step {text}: not NAME=FILE:FUNCTION (e.g. drain=steps/drain.py:handler)"
        )
    name, file, function = match.groups()
    if not Path(file).is_file():
        raise UsageError(f"--platform-step {text}: {file} does not exist (check the path)")
    return name, function, Path(file)


def _package(out: Path, platform: list[tuple[str, str, Path]]) -> None:
    """The pipeline's Package stage: the same zips synthesis embeds, plus a manifest."""
    from healstack.providers.aws.packages import MANIFEST, write_all

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file (give a folder)")
    out.mkdir(parents=True, exist_ok=True)
    for path, package in write_all(out, platform):
        print(f"packaged: {path} sha256={package.sha256_base64}")
    print(f"manifest: {out / MANIFEST}")


def _simulate(args: argparse.Namespace) -> int:
    import json

    from healstack.loader import load_playbook
    from healstack.simulate.report import render_run, run_to_json
    from healstack.simulate.runner import load_event, run_playbook

    playbook = load_playbook(args.playbook or shipped_playbook_path())
    event = load_event(args.event)
    scenario = None
    if args.scenario is not None:
        if not args.scenario.is_file():
            raise UsageError(f"--scenario {args.scenario}: no such file (check the path)")
        from healstack.simulate import load_scenario

        scenario = load_scenario(args.scenario)  # its own errors before a 10 s synthesis
    why_not = mismatch(playbook.trigger.event_pattern(), event)
    if why_not is not None and not args.ignore_trigger:
        # as delivery would: the rule never starts the workflow for this event
        if args.json:
            print(json.dumps({"outcome": NOT_TRIGGERED, "reason": why_not}, indent=2))
        else:
            print(
                f"not triggered: {playbook.name}'s trigger would not deliver this event: "
                f"{why_not} (--ignore-trigger runs the recovery anyway)"
            )
        return _expected(args.expect, NOT_TRIGGERED)
    from healstack.settings import load_hub

    if args.config is not None and not args.config.is_file():
        raise UsageError(f"--config {args.config}: no such file (check the path)")
    hub = load_hub(args.config)
    if hub is None:
        run = run_playbook(
            playbook,
            event,
            scenario=scenario,
            verbose=args.verbose,
            keep_event_time=args.keep_event_time,
        )
    else:  # as a hub delivers it: from a member account, acted on through the member role
        from healstack.simulate.runner import Start, run_playbook_many

        (run,) = run_playbook_many(
            playbook,
            [Start(event, name="simulation")],
            scenario=scenario,
            verbose=args.verbose,
            keep_event_time=args.keep_event_time,
            max_in_flight=1,
            hub=hub,
        )
    if args.json:
        report = run_to_json(run, args.event.name)
        if why_not is not None:
            report["trigger_mismatch"] = why_not
        print(json.dumps(report, indent=2, default=str))
    else:
        if why_not is not None:
            print(
                f"note: run with --ignore-trigger; on AWS this event would not start it: {why_not}"
            )
        print(render_run(run, args.event.name))
    return _expected(args.expect, run.outcome)


def _expected(expect: str | None, outcome: str | None) -> int:
    """``--expect``: exit 3 with one line unless the outcome is the expected one."""
    if expect is None or outcome == expect:
        return EXIT_OK
    print(f"healstack: expected outcome {expect}, got {outcome or 'none'}", file=sys.stderr)
    return EXIT_UNEXPECTED


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except HealstackError as exc:
        print(f"healstack: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("healstack: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``healstack simulate | head``): not an error of ours; point
        # stdout at nothing so the interpreter's final flush does not fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # as a shell reports a process ended by SIGPIPE
    except Exception as exc:  # a bug in healstack, not the user's input
        if os.environ.get("HEALSTACK_DEBUG") == "1":
            raise
        print(
            f"healstack: internal error: {type(exc).__name__}: {exc} "
            "(set HEALSTACK_DEBUG=1 for the traceback and report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
