"""The docs site: it builds strict, every command and path it shows exists, and the generated
references cover the model, the parser and the kind registry."""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from healstack import docs_gen
from healstack.cli import build_parser
from healstack.errors import UsageError
from healstack.schema import field_docs, models, target_kinds
from tests.conftest import REPO

PAGES = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"(?<!`)`([^`\n]+(?:\n[^`\n]+)?)`(?!`)")
SHELL_LANGUAGES = ("sh", "bash", "shell", "console")
#: where a repository path may start (anything else in backticks is not a path of this repo)
ROOTS = (
    "healstack/",
    "modules/",
    "providers/",
    "lambda_src/",
    "tests/",
    "scripts/",
    "examples/",
    "benchmarks/",
    "requirements/",
    "docs/",
    ".github/",
    ".ci/",
)
TOP_FILES = ("main.py", "cdktf.json", "CHANGELOG.md", "mkdocs.yml", "pyproject.toml", "dev")


def run_build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "healstack.docs_gen", "build", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_site_builds_in_strict_mode_with_every_generated_page(tmp_path: Path) -> None:
    """No skip: without mkdocs (the docs and test extras) this fails, it does not pass."""
    site = tmp_path / "site"
    result = run_build("--strict", "--out", str(site))
    assert result.returncode == 0, result.stdout + result.stderr
    for page in docs_gen.GENERATED:
        assert (site / page.removesuffix(".md") / "index.html").is_file(), page
    workflow = (site / "reference" / "workflow" / "index.html").read_text(encoding="utf-8")
    assert "flowchart TD" in workflow and "NotifyRecovered" in workflow
    for page in (REPO / "docs").rglob("*.md"):
        relative = page.relative_to(REPO / "docs").with_suffix("")
        built = site / ("index.html" if relative.name == "index" else relative / "index.html")
        assert built.is_file(), f"{page} is not in the site (add it to mkdocs.yml's nav)"


def _site_copy(tmp_path: Path) -> Path:
    """docs/ and mkdocs.yml copied, the hook named by its absolute path."""
    shutil.copytree(REPO / "docs", tmp_path / "docs")
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    hook = REPO / "healstack" / "docs_gen.py"
    assert "  - healstack/docs_gen.py\n" in config
    (tmp_path / "mkdocs.yml").write_text(
        config.replace("  - healstack/docs_gen.py\n", f"  - {hook}\n")
    )
    return tmp_path / "mkdocs.yml"


@pytest.mark.parametrize(
    "planted",
    [
        "See [the missing page](no-such-page.md).",
        "See [a missing anchor](security.md#no-such-section).",
        "See [a missing field](reference/playbook.md#playbook-no_such_field).",
    ],
)
def test_a_broken_link_or_anchor_fails_the_strict_build(tmp_path: Path, planted: str) -> None:
    config = _site_copy(tmp_path)
    index = tmp_path / "docs" / "index.md"
    index.write_text(index.read_text(encoding="utf-8") + f"\n{planted}\n", encoding="utf-8")
    result = run_build("--strict", "--config", str(config), "--out", str(tmp_path / "site"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "index.md" in result.stderr and "strict" in result.stderr


def test_a_generated_page_cannot_also_be_a_file(tmp_path: Path) -> None:
    config = _site_copy(tmp_path)
    stale = tmp_path / "docs" / "reference" / "cli.md"
    stale.parent.mkdir(exist_ok=True)
    stale.write_text("# stale copy\n")
    result = run_build("--config", str(config), "--out", str(tmp_path / "site"))
    assert result.returncode != 0
    assert "reference/cli.md is generated" in result.stderr


# --- every command shown exists -----------------------------------------------------------


def shown_commands() -> Iterator[tuple[str, str, bool]]:
    """(page, command line, in prose) for every shell line in a fenced block and every code
    span that starts with ``healstack`` or ``./dev``."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        name = str(page.relative_to(REPO))
        for language, body in FENCE.findall(text):
            if language not in SHELL_LANGUAGES:
                continue
            joined = re.sub(r"\\\n\s*", " ", body)
            for line in joined.splitlines():
                if language == "console":
                    if not line.startswith("$ "):
                        continue
                    line = line[2:]
                yield name, line, False
        stripped = FENCE.sub("", text)
        for span in SPAN.findall(stripped):
            span = " ".join(span.split())
            if span.startswith(("healstack ", "./dev ")):
                yield name, span, True


def commands_in(line: str) -> Iterator[list[str]]:
    """The simple commands of a shell line (split at && ; || |), leading VAR=value and
    redirections dropped."""
    words = shlex.split(line, comments=True)
    command: list[str] = []
    redirected = False
    for word in [*words, ";"]:
        if word in ("&&", ";", "||", "|"):
            redirected = False
            while command and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", command[0]):
                command.pop(0)
            if command:
                yield command
            command = []
        elif redirected or re.fullmatch(r"\d?(>|>>|<)(&\d)?", word):
            redirected = True
        else:
            command.append(word)


def dev_commands() -> set[str]:
    script = (REPO / "dev").read_text(encoding="utf-8")
    body = script[script.index("case $command in") :]
    return {
        label
        for match in re.findall(r"^\s{2}([a-z|-]+)\)", body, re.MULTILINE)
        for label in match.split("|")
    }


def _placeholder(args: list[str]) -> bool:
    """``healstack ARGS`` / ``./dev ...``: a stand-in for any arguments, not a command."""
    return not args or args[0].isupper() or any(a in ("ARGS", "...") for a in args)


def parse(argv: list[str], parser: argparse.ArgumentParser, prose: bool = False) -> str | None:
    """None when the parser takes ``argv``, else why not. In prose a command may be named
    without its required arguments (`healstack package` writes the zips)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # --version, --help
            parser.parse_args(argv)
    except UsageError as exc:
        if prose and "arguments are required" in str(exc):
            return None
        return str(exc)
    except SystemExit as exc:  # argparse's own error (the docs parser), or --help/--version
        return None if exc.code == 0 else f"exit {exc.code}"
    return None


def problems_of(command: list[str], prose: bool = False) -> str | None:
    head, args = command[0], command[1:]
    if head == "./dev":
        if _placeholder(args):
            return None
        if args[0] not in dev_commands():
            return f"./dev has no command {args[0]!r} (it has {sorted(dev_commands())})"
        if args[0] == "healstack":
            return None if _placeholder(args[1:]) else parse(args[1:], build_parser(), prose)
        if args[0] == "synth":  # ./dev synth runs main.py, which takes synth's options
            return parse(["synth", *args[1:]], build_parser(), prose)
        if args[0] == "docs":  # ./dev docs runs python -m healstack.docs_gen build
            return parse(["build", *args[1:]], docs_gen.build_parser(), prose)
        return None
    if head == "healstack":
        return None if _placeholder(args) else parse(args, build_parser(), prose)
    if head.endswith("python") and args[:2] == ["-m", "healstack.cli"]:
        return parse(args[2:], build_parser())
    if head.endswith("python") and args[:2] == ["-m", "healstack.docs_gen"]:
        return parse(args[2:], docs_gen.build_parser())
    return None


def test_every_command_shown_in_the_docs_and_readme_exists() -> None:
    checked, bad = 0, []
    for page, line, prose in shown_commands():
        for command in commands_in(line):
            problem = problems_of(command, prose)
            checked += command[0] in ("healstack", "./dev")
            if problem is not None:
                bad.append(f"{page}: {' '.join(command)}: {problem}")
    assert bad == []
    assert checked > 40  # the extraction finds the commands (README alone shows ~12)


def test_the_command_check_catches_a_wrong_command() -> None:
    assert problems_of(["healstack", "simulate", "--events", "e.json"]) is not None
    assert problems_of(["healstack", "synthesize"]) is not None
    assert problems_of(["./dev", "healstack", "validate"]) is not None  # PLAYBOOK is required
    assert problems_of(["./dev", "deploy"]) is not None
    assert problems_of(["./dev", "synth", "--stages", "dev"]) is not None
    assert problems_of(["./dev", "synth", "--stage", "dev"]) is None
    assert problems_of(["./dev", "docs", "--strict", "--out", "/tmp/site"]) is None
    assert problems_of(["./dev", "docs", "--strick"]) is not None
    assert problems_of(["healstack", "package"], prose=True) is None
    assert problems_of(["healstack", "package"]) is not None
    assert problems_of(["healstack", "packages"], prose=True) is not None
    assert list(commands_in("healstack schema > s.json && ./dev test -n 0")) == [
        ["healstack", "schema"],
        ["./dev", "test", "-n", "0"],
    ]


# --- every path named exists --------------------------------------------------------------


def _expanded(path: str) -> list[str]:
    braces = re.search(r"\{([^}]*)\}", path)
    if braces is None:
        return [path]
    head, tail = path[: braces.start()], path[braces.end() :]
    return [p for option in braces.group(1).split(",") for p in _expanded(head + option + tail)]


def named_paths() -> Iterator[tuple[str, str]]:
    for page in PAGES:
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        for span in SPAN.findall(text):
            span = span.strip().rstrip(".,:;")
            if " " in span or "\n" in span:
                continue
            if span.endswith(".tfstate"):  # a state key in a bucket, not a file here
                continue
            if span.startswith(ROOTS) or span in TOP_FILES:
                yield str(page.relative_to(REPO)), span


def test_every_repository_path_the_docs_name_exists() -> None:
    missing, checked = [], 0
    for page, path in named_paths():
        for one in _expanded(path):
            pattern = re.sub(r"<[^>]+>", "*", one)
            checked += 1
            if not glob.glob(str(REPO / pattern)):
                missing.append(f"{page}: {path}")
    assert missing == []
    assert checked > 50


def test_every_relative_link_of_the_readme_resolves() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert local and [link for link in local if not (REPO / link).exists()] == []


# --- the generated references cover their sources ----------------------------------------


def test_the_playbook_reference_covers_every_model_field() -> None:
    page = docs_gen.playbook_reference()
    docs = field_docs()
    for name, model in models().items():
        anchor = name.lower()
        assert f"{{#{anchor}}}" in page, name
        for field in model.model_fields:
            assert f"{{#{anchor}-{field}}}" in page, f"{name}.{field}"
            assert f"[`{field}`](#{anchor}-{field})" in page, f"{name}.{field} has no table row"
            assert docs[name][field].text in page


def test_the_cli_reference_covers_every_subcommand_and_option() -> None:
    page = docs_gen.cli_reference()

    def walk(parser: argparse.ArgumentParser, words: tuple[str, ...]) -> Iterator[str]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield f"## `healstack {' '.join((*words, name))}`"
                    yield from walk(sub, (*words, name))
            elif action.option_strings and not isinstance(action, argparse._HelpAction):
                yield f"`{action.option_strings[-1]}`"

    wanted = list(walk(build_parser(), ()))
    assert len(wanted) > 20
    assert [w for w in wanted if w not in page] == []


def test_the_kinds_page_covers_every_kind_operation_and_state() -> None:
    page = docs_gen.kinds_table()
    for kind in target_kinds().values():
        assert f"## `{kind.name}`" in page
        for name in (*kind.checks, *kind.actions, *kind.states, *kind.event_sources):
            assert f"`{name}`" in page, (kind.name, name)


def test_the_workflow_page_lists_every_outcome_the_compiler_emits() -> None:
    page = docs_gen.workflow_page()
    compiled = (REPO / "modules" / "compile.py").read_text(encoding="utf-8")
    emitted = set(re.findall(r'_notify\(\s*\w+,\s*"([a-z_]+)"', compiled))
    assert emitted >= {"recovered", "gave_up", "failed", "refused"}
    rows = set(re.findall(r"^\| `([a-z_]+)` \| `Notify", page, re.MULTILINE))
    assert rows == emitted


# --- the README is the front door ------------------------------------------------------------


def test_the_readme_is_short_and_shows_the_two_commands_ci_runs() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 200
    assert "./dev synth" in readme and "./dev test" in readme
    assert "exec ./dev test\n" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
    tour = readme[readme.index("## A five-minute tour") :]
    for step in ("validate", "./dev synth", "simulate", "diagram", "./dev cdktf deploy"):
        assert step in tour, step
