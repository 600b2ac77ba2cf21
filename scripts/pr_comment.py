#!/usr/bin/env python3
"""Post a pull-request comment, or update the one posted before (found by its marker).

One comment per pull request, edited on every re-run, so a PR never fills up with plans.

    python3 scripts/pr_comment.py --body FILE [--marker TEXT] [--pr N]

Reads ``GITHUB_TOKEN``, ``GITHUB_REPOSITORY`` (owner/name), ``GITHUB_API_URL`` (default
https://api.github.com) and, without ``--pr``, the pull request number from the event
payload at ``GITHUB_EVENT_PATH``. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DEFAULT_MARKER = "<!-- healstack:plan-summary -->"
PAGE = 100

#: (method, url, JSON body or None) -> decoded JSON response; replaced in tests
Transport = Callable[[str, str, Any], Any]


def github_transport(token: str) -> Transport:
    def send(method: str, url: str, body: Any) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {token}")
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    return send


def upsert(
    send: Transport, api: str, repository: str, pr: int, body: str, marker: str
) -> tuple[str, int]:
    """Update the comment holding ``marker`` or create one; ("updated"|"created", id)."""
    if marker not in body:
        body = f"{marker}\n{body}"
    page = 1
    while True:
        comments = send(
            "GET",
            f"{api}/repos/{repository}/issues/{pr}/comments?per_page={PAGE}&page={page}",
            None,
        )
        for comment in comments:
            if marker in (comment.get("body") or ""):
                send(
                    "PATCH",
                    f"{api}/repos/{repository}/issues/comments/{comment['id']}",
                    {"body": body},
                )
                return "updated", int(comment["id"])
        if len(comments) < PAGE:
            break
        page += 1
    created = send("POST", f"{api}/repos/{repository}/issues/{pr}/comments", {"body": body})
    return "created", int(created["id"])


def pr_number(event_path: str | None) -> int | None:
    if not event_path or not Path(event_path).is_file():
        return None
    event = json.loads(Path(event_path).read_text())
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    return int(number) if number else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create or update one PR comment.")
    parser.add_argument("--body", type=Path, required=True, help="Markdown file")
    parser.add_argument("--marker", default=DEFAULT_MARKER)
    parser.add_argument("--pr", type=int, default=None)
    args = parser.parse_args(argv)
    token = os.environ.get("GITHUB_TOKEN")
    repository = os.environ.get("GITHUB_REPOSITORY")
    pr = args.pr or pr_number(os.environ.get("GITHUB_EVENT_PATH"))
    missing = [
        n
        for n, v in (("GITHUB_TOKEN", token), ("GITHUB_REPOSITORY", repository), ("PR", pr))
        if not v
    ]
    if missing:
        print(f"pr_comment: error: missing {', '.join(missing)}", file=sys.stderr)
        return 2
    assert token and repository and pr
    api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    action, comment = upsert(
        github_transport(token), api, repository, pr, args.body.read_text(), args.marker
    )
    print(f"pr_comment: {action} comment {comment} on {repository}#{pr}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
