#!/usr/bin/env python3
"""Keep the README's workflow diagram equal to ``healstack diagram`` of the default playbook.

    python scripts/readme_diagram.py          # rewrite the block in README.md
    python scripts/readme_diagram.py --check  # exit 1 when it is stale (what the tests do)

The block sits between ``<!-- diagram:begin -->`` and ``<!-- diagram:end -->``.
Run inside the project venv (``./dev healstack`` has the same interpreter).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
from collections.abc import Sequence
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- diagram:begin -->"
END = "<!-- diagram:end -->"
_BLOCK = re.compile(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), re.DOTALL)


def generated() -> str:
    """The fenced Mermaid block for the default playbook, as the CLI prints it."""
    from healstack.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["diagram"])
    if code != 0:
        raise SystemExit(code)
    return f"```mermaid\n{out.getvalue()}```\n"


def embedded(text: str) -> str | None:
    match = _BLOCK.search(text)
    return match.group(1) if match else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Refresh the README's workflow diagram.")
    parser.add_argument("--check", action="store_true", help="only report a stale diagram")
    args = parser.parse_args(argv)
    text = README.read_text()
    current, fresh = embedded(text), generated()
    if current is None:
        print(f"readme_diagram: error: {README} has no {BEGIN} ... {END} block", file=sys.stderr)
        return 2
    if current == fresh:
        return 0
    if args.check:
        print("readme_diagram: README.md's diagram is stale (run scripts/readme_diagram.py)")
        return 1
    README.write_text(text.replace(f"{BEGIN}\n{current}{END}", f"{BEGIN}\n{fresh}{END}"))
    print("readme_diagram: README.md updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
