"""Run healstack's benchmarks and print one table (issue #6). Not part of the test suite.

    .venv/bin/python -m benchmarks.run                    # everything (~15 minutes here)
    .venv/bin/python -m benchmarks.run synthesis storm    # some sections
    .venv/bin/python -m benchmarks.run --quick            # fewer repeats, 200-event storm
    .venv/bin/python -m benchmarks.run --markdown         # the table as Markdown (docs/performance.md)
    .venv/bin/python -m benchmarks.run storm --storm-policy short  # throttles retried as before

Sections: ``synthesis``, ``lambda``, ``cost``, ``storm``, ``suite``. Exit status 0 when every
target was met, 1 otherwise (a figure without a target never fails).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict

from benchmarks.common import Row, machine, today

SECTIONS = ("synthesis", "lambda", "cost", "storm", "suite")


def _runners(args: argparse.Namespace) -> dict[str, Callable[[], list[Row]]]:
    from benchmarks import cold_path, cost, storm, suite, synthesis

    repeats = 2 if args.quick else args.repeats
    return {
        "synthesis": lambda: synthesis.measure(repeats, setup=args.setup),
        "lambda": lambda: cold_path.measure(repeats),
        "cost": cost.measure,
        "storm": lambda: storm.measure(
            200 if args.quick else args.storm, args.max_in_flight, policy=args.storm_policy
        ),
        "suite": suite.measure,
    }


def verdict(row: Row) -> str:
    if row.met is None:
        return ""
    return "met" if row.met else "MISSED"


def render_text(rows: Sequence[Row]) -> str:
    header = ("section", "measure", "value", "target", "", "note")
    table = [header] + [(r.section, r.measure, r.value, r.target, verdict(r), r.note) for r in rows]
    widths = [min(60, max(len(line[i]) for line in table)) for i in range(len(header) - 1)]
    lines = []
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        lines.append("  ".join([*cells, line[-1]]).rstrip())
    return "\n".join(lines)


def render_markdown(rows: Sequence[Row]) -> str:
    lines = [
        "| section | measure | value | target | | note |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        cells = (r.section, r.measure, r.value, r.target, verdict(r), r.note)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("sections", nargs="*", metavar="SECTION", help=", ".join(SECTIONS))
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per timing")
    parser.add_argument("--storm", type=int, default=1000, help="events in the fleet storm")
    parser.add_argument(
        "--max-in-flight", type=int, default=None, help="storm concurrency (default: all)"
    )
    parser.add_argument(
        "--storm-policy",
        choices=("shipped", "short"),
        default="shipped",
        help="retry throttles as shipped, or with the short transient policy (the old stack)",
    )
    parser.add_argument("--quick", action="store_true", help="2 repeats, a 200-event storm")
    parser.add_argument(
        "--setup",
        action="store_true",
        help="synthesis: also time a fresh venv install, old and new (slow)",
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)} (choose from {', '.join(SECTIONS)})")
    chosen = args.sections or list(SECTIONS)
    runners = _runners(args)
    where = machine()
    print(f"healstack benchmarks, {today()}: {where}", file=sys.stderr)
    rows: list[Row] = []
    for section in chosen:
        began = time.perf_counter()
        print(f"  {section} ...", file=sys.stderr, flush=True)
        rows.extend(runners[section]())
        print(f"  {section}: {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
    print(render_markdown(rows) if args.markdown else render_text(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(
                {"date": today(), "machine": machine(), "rows": [asdict(r) for r in rows]},
                out,
                indent=2,
            )
    return 0 if all(r.met is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
