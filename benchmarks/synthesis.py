"""Synthesis: healstack's own resource layer against the prebuilt bindings, in one run.

The previous implementation is a git worktree of ``BEFORE_LAYER`` (the last commit that built
resources through ``cdktf-cdktf-provider-aws``; the test extra still installs those bindings,
for the platform example), run with the same interpreter: ``python main.py`` there imports
that commit's healstack. Measured in fresh processes, old and new in turn (a shared machine's
load falls on both alike), wall and CPU (user + system of Python and jsii's Node):

- the default ``python main.py``: wall time (median) and peak memory (the largest process:
  Python or jsii's Node);
- the cost of each additional playbook: ``(t10 - t1) / 9`` over 10 valid playbooks (made
  from the shipped playbooks the old implementation ships too);
- ``import`` of the construct library (``RecoveryWorkflow`` and the AWS provider);
- the install: the size of what the product's dependencies put into a venv, with and without
  the bindings, and (``--setup``, slow: two fresh venvs) the first ``./dev synth`` set-up.

Targets (issue 12): default wall <= 0.35x the old, <= 150 MB peak; each additional playbook
<= 0.15 s; set-up time halved.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection
from importlib import metadata
from pathlib import Path

import yaml

from benchmarks.common import (
    BINDINGS_COMMIT,
    PYTHON,
    REPO,
    Row,
    child_env,
    median_of,
    run_measured,
    seconds,
)
from healstack.loader import load_playbook, shipped_playbook_path, shipped_playbooks

#: the last commit whose resources came from the prebuilt bindings
BEFORE_LAYER = BINDINGS_COMMIT
MANY = 10
IMPORT_LIBRARY = "import healstack.modules.recovery_workflow, healstack.providers.aws.provider"
PEAK = (
    "import resource, subprocess, sys; "
    "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def generate_playbooks(
    folder: Path, count: int = MANY, among: Collection[str] | None = None
) -> list[Path]:
    """``count`` valid playbooks: the shipped ones (those of ``among`` when given, e.g. the
    ones the previous implementation ships too) in turn, each under a new name."""
    shipped = [name for name in shipped_playbooks() if among is None or name in among]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        data = yaml.safe_load(shipped_playbook_path(shipped[index % len(shipped)]).read_text())
        data["name"] = f"{data['name']}-{index + 1:02d}"
        path = folder / f"{data['name']}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        load_playbook(path)  # refuses an invalid one (e.g. a name over AWS's limits)
        paths.append(path)
    return paths


def _synth(tree: Path, out: Path, playbooks: list[Path]) -> list[str]:
    args = [PYTHON, str(tree / "main.py"), "--out", str(out)]
    for path in playbooks:
        args += ["--playbook", str(path)]
    return args


def _peak_mb(args: list[str], cwd: Path) -> float:
    result = subprocess.run(
        [PYTHON, "-c", PEAK, *args],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.strip()) / 1024


def _worktree(work: Path) -> Path:
    tree = work / "before"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), BEFORE_LAYER],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return tree


def _distribution_mb(name: str) -> float:
    """What one installed distribution occupies (its RECORD), in MB."""
    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or ():
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total / 1e6


def _product_closure(with_bindings: bool) -> list[str]:
    """The product's dependencies (not the test extra), recursively, by distribution name."""
    seen: set[str] = set()
    todo = ["cdktf", "constructs", "boto3", "pydantic", "PyYAML"]
    if with_bindings:
        todo.append("cdktf-cdktf-provider-aws")
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # a dependency for another Python (its marker excludes this one)
        seen.add(key)
        for requirement in requirements:
            if "extra ==" in requirement:
                continue
            found = re.match(r"[A-Za-z0-9_.-]+", requirement)
            if found:
                todo.append(found.group(0))
    return sorted(seen)


def _setup_seconds(tree: Path, work: Path, label: str) -> float:
    """A fresh venv and ``pip install -e .`` of ``tree`` (what the first ``./dev synth`` does)."""
    venv = work / f"venv-{label}"
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-e", str(tree)],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - began


def measure(repeats: int = 5, setup: bool = False) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="healstack-bench-synth-"))
    try:
        before = _worktree(work)
        # the same playbooks for both: kinds added since (e.g. asg_instance) are not in the old
        old_shipped = {p.name for p in (before / "healstack" / "playbooks").iterdir()}
        playbooks = generate_playbooks(work / "playbooks", among=old_shipped)
        trees = {"old": before, "new": REPO}
        cases = {"default": [], "one": playbooks[:1], "many": playbooks}
        # old and new in turn, so a shared machine's load falls on both alike
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(repeats):
            for label, tree in trees.items():
                for case, given in cases.items():
                    args = _synth(tree, work / label / case, given)
                    samples.setdefault((label, case), []).append(run_measured(args, cwd=tree))
        figures: dict[str, dict[str, float]] = {}
        for label, tree in trees.items():
            wall = {c: statistics.median(w for w, _ in samples[(label, c)]) for c in cases}
            cpu = {c: statistics.median(u for _, u in samples[(label, c)]) for c in cases}
            imported, _ = median_of(repeats, [PYTHON, "-c", IMPORT_LIBRARY], cwd=tree)
            figures[label] = {
                "default": wall["default"],
                "default_cpu": cpu["default"],
                "peak": _peak_mb(_synth(tree, work / label / "p", []), tree),
                "per_playbook": (wall["many"] - wall["one"]) / (MANY - 1),
                "per_playbook_cpu": (cpu["many"] - cpu["one"]) / (MANY - 1),
                "import": imported,
            }
            if setup:
                figures[label]["setup"] = _setup_seconds(tree, work, label)
        old_stack = json.loads(
            (
                work / "old" / "default" / "stacks" / "ec2-status-check-recovery" / "cdk.tf.json"
            ).read_text()
        )
        new_stack = json.loads(
            (
                work / "new" / "default" / "stacks" / "ec2-status-check-recovery" / "cdk.tf.json"
            ).read_text()
        )
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(work / "before")],
            cwd=REPO,
            capture_output=True,
        )
        shutil.rmtree(work, ignore_errors=True)
    old, new = figures["old"], figures["new"]
    # the layer swap itself was byte-identical but for the version constraint (CHANGELOG,
    # issue 12); features since add resources and change function code, so what must hold
    # now is that no address of the old stack is gone or renamed
    old_addresses, new_addresses = (
        {f"{kind}.{name}" for kind, entries in stack["resource"].items() for name in entries}
        for stack in (old_stack, new_stack)
    )
    missing = old_addresses - new_addresses
    same = not missing
    bindings = _distribution_mb("cdktf-cdktf-provider-aws")
    product = sum(_distribution_mb(n) for n in _product_closure(False))
    section = "synthesis"
    how = f"median of {repeats} fresh processes; old = {BEFORE_LAYER} (prebuilt bindings)"
    ratio = new["default"] / old["default"]
    rows = [
        Row(
            section,
            "`python main.py` (default stack), old -> new",
            f"{seconds(old['default'])} -> {seconds(new['default'])} = {ratio:.2f}x",
            "<= 0.35x",
            ratio <= 0.35,
            how,
        ),
        Row(
            section,
            "CPU of that synthesis (Python and Node), old -> new",
            f"{seconds(old['default_cpu'])} -> {seconds(new['default_cpu'])} "
            f"= {new['default_cpu'] / old['default_cpu']:.2f}x",
            note="user + system, median; less sensitive to the machine's load than wall",
        ),
        Row(
            section,
            "peak memory of that synthesis (largest process), old -> new",
            f"{old['peak']:.0f} MB -> {new['peak']:.0f} MB",
            "<= 150 MB",
            new["peak"] <= 150,
        ),
        Row(
            section,
            "each additional playbook, old -> new",
            f"{seconds(old['per_playbook'])} -> {seconds(new['per_playbook'])}",
            "<= 0.15 s",
            new["per_playbook"] <= 0.15,
            f"(t{MANY} - t1) / {MANY - 1}; playbooks both versions ship",
        ),
        Row(
            section,
            "CPU of each additional playbook, old -> new",
            f"{seconds(old['per_playbook_cpu'])} -> {seconds(new['per_playbook_cpu'])}",
            note="user + system, the same difference of medians",
        ),
        Row(
            section,
            "`import` of the construct library, old -> new",
            f"{seconds(old['import'])} -> {seconds(new['import'])}",
            note=how,
        ),
        Row(
            section,
            "the product's installed dependencies, old -> new",
            f"{product + bindings:.0f} MB -> {product:.0f} MB (the bindings: {bindings:.0f} MB)",
        ),
        Row(
            section,
            "default stack's resource addresses, old -> new",
            f"all {len(old_addresses)} kept, {len(new_addresses - old_addresses)} added since"
            if same
            else f"{len(missing)} gone: {', '.join(sorted(missing)[:3])}",
            "none gone",
            same,
        ),
    ]
    if setup:
        half = new["setup"] <= old["setup"] / 2
        rows.append(
            Row(
                section,
                "first set-up (`venv` + `pip install -e .`), old -> new",
                f"{seconds(old['setup'])} -> {seconds(new['setup'])}",
                "halved",
                half,
                "pip's cache as this machine has it",
            )
        )
    return rows
