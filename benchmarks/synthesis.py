"""Synthesis wall time: ``python main.py`` in fresh processes, against what it cannot beat.

- *floor*: a process that imports cdktf and loads the AWS bindings' jsii assembly, exactly what
  ``providers/aws/bindings.py`` does before it imports its submodules. Every synthesis pays it.
- *plain import*: ``import cdktf_cdktf_provider_aws`` (all ~2,100 submodules), what synthesis
  would cost without the bindings seam.
- the default stack, 1 playbook and 10 playbooks (the shipped ones, renamed ``<name>-01`` ...,
  each validated), so ``(t10 - t1) / 9`` is the cost of one more playbook.

Targets (issue #6): default synth within 1.5x the floor; each additional playbook < 1 s.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import yaml

from benchmarks.common import PYTHON, REPO, Row, median_of, seconds
from healstack.loader import load_playbook, shipped_playbook_path, shipped_playbooks

FLOOR = """
import importlib, importlib.util, sys
import cdktf
spec = importlib.util.find_spec("cdktf_cdktf_provider_aws")
package = importlib.util.module_from_spec(spec)
package.__path__ = list(spec.submodule_search_locations)
sys.modules[spec.name] = package
importlib.import_module("cdktf_cdktf_provider_aws._jsii")
"""
PLAIN_IMPORT = "import cdktf_cdktf_provider_aws"
MANY = 10


def generate_playbooks(folder: Path, count: int = MANY) -> list[Path]:
    """``count`` valid playbooks: the shipped ones in turn, each under a new name."""
    shipped = shipped_playbooks()
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


def _synth(out: Path, playbooks: list[Path]) -> list[str]:
    args = [PYTHON, str(REPO / "main.py"), "--out", str(out)]
    for path in playbooks:
        args += ["--playbook", str(path)]
    return args


def measure(repeats: int = 5) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="healstack-bench-synth-"))
    try:
        playbooks = generate_playbooks(work / "playbooks")
        floor, _ = median_of(repeats, [PYTHON, "-c", FLOOR])
        plain, _ = median_of(repeats, [PYTHON, "-c", PLAIN_IMPORT])
        default, _ = median_of(repeats, _synth(work / "out-default", []))
        one, _ = median_of(repeats, _synth(work / "out-1", playbooks[:1]))
        many, _ = median_of(repeats, _synth(work / "out-10", playbooks))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per_playbook = (many - one) / (MANY - 1)
    ratio = default / floor
    section = "synthesis"
    how = f"median of {repeats} fresh processes"
    return [
        Row(section, "floor: import cdktf + load the AWS jsii assembly", seconds(floor), note=how),
        Row(section, "plain `import cdktf_cdktf_provider_aws`", seconds(plain), note=how),
        Row(
            section,
            "`python main.py` (default stack)",
            f"{seconds(default)} = {ratio:.2f}x floor",
            "<= 1.5x floor",
            ratio <= 1.5,
            how,
        ),
        Row(section, "`python main.py`, 1 playbook", seconds(one), note=how),
        Row(section, f"`python main.py`, {MANY} playbooks", seconds(many), note=how),
        Row(
            section,
            "each additional playbook",
            seconds(per_playbook),
            "< 1 s",
            per_playbook < 1.0,
            f"(t{MANY} - t1) / {MANY - 1}",
        ),
    ]
