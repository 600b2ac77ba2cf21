"""``scripts/pr_comment.py``: one comment per pull request, updated on re-runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.helpers import script

pr_comment = script("pr_comment")
API = "https://api.example"
MARKER = pr_comment.DEFAULT_MARKER


class FakeGitHub:
    def __init__(self, pages: list[list[dict[str, Any]]]) -> None:
        self.pages = pages
        self.calls: list[tuple[str, str, Any]] = []

    def __call__(self, method: str, url: str, body: Any) -> Any:
        self.calls.append((method, url, body))
        if method == "GET":
            page = int(url.rsplit("page=", 1)[1])
            return self.pages[page - 1] if page <= len(self.pages) else []
        if method == "POST":
            return {"id": 99}
        return {"id": int(url.rsplit("/", 1)[1])}


def test_creates_the_comment_when_there_is_none() -> None:
    github = FakeGitHub([[{"id": 1, "body": "LGTM"}]])
    result = pr_comment.upsert(github, API, "acme/healstack", 7, f"{MARKER}\nplan", MARKER)
    assert result == ("created", 99)
    assert github.calls[-1] == (
        "POST",
        f"{API}/repos/acme/healstack/issues/7/comments",
        {"body": f"{MARKER}\nplan"},
    )


def test_updates_the_marked_comment_even_on_a_later_page() -> None:
    first = [{"id": n, "body": "noise"} for n in range(pr_comment.PAGE)]
    github = FakeGitHub([first, [{"id": 4242, "body": f"{MARKER}\nold plan"}]])
    result = pr_comment.upsert(github, API, "acme/healstack", 7, "new plan", MARKER)
    assert result == ("updated", 4242)
    method, url, body = github.calls[-1]
    assert (method, url) == ("PATCH", f"{API}/repos/acme/healstack/issues/comments/4242")
    assert body == {"body": f"{MARKER}\nnew plan"}  # the marker is added when missing
    assert [c[0] for c in github.calls].count("POST") == 0


def test_pr_number_comes_from_the_event_payload(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 12}}))
    assert pr_comment.pr_number(str(event)) == 12
    assert pr_comment.pr_number(str(tmp_path / "missing.json")) is None


def test_cli_refuses_without_token_repository_or_pr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_EVENT_PATH"):
        monkeypatch.delenv(name, raising=False)
    body = tmp_path / "summary.md"
    body.write_text("x")
    assert pr_comment.main(["--body", str(body)]) == 2
    assert "missing GITHUB_TOKEN, GITHUB_REPOSITORY, PR" in capsys.readouterr().err
