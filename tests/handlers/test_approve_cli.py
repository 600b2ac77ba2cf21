"""``healstack approve|reject``: a signed request to the decide function, end to end.

The function URL is stood in for by an HTTP server on 127.0.0.1 (a free port, always
stopped) that does what AWS does in front of a function URL with ``AuthType AWS_IAM``:
it requires a SigV4 signature for service ``lambda`` and hands the real decide handler the
caller's identity (here: the fake access key's approver). The store is moto's.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from healstack.cli import main
from healstack_lambda import approvals, decide
from tests.handlers.conftest import create_store

TABLE = "healstack-approve-cli"
ONCALL = "arn:aws:iam::123456789012:role/oncall"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:m:run-7"
KEY = approvals.key_for(EXECUTION, "reboot", 1)
PLAYBOOK = """
name: careful-ec2
trigger: {source: aws.cloudwatch}
target: {kind: ec2_instance, require_tag: {healstack: enabled}}
steps: [{check: status}, {action: reboot}, {wait: 1m}, {check: status}]
approval: {before: [reboot], approvers: ["arn:aws:iam::123456789012:role/oncall"]}
"""


class _FunctionUrl(BaseHTTPRequestHandler):
    """What AWS does before the function runs: no valid SigV4 for lambda, no call."""

    identities: ClassVar[dict[str, str]] = {}
    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
        auth = self.headers.get("authorization", "")
        self.seen.append(dict(self.headers.items()))
        caller = None
        if auth.startswith("AWS4-HMAC-SHA256 Credential=") and "/lambda/aws4_request" in auth:
            access_key = auth.split("Credential=")[1].split("/")[0]
            caller = self.identities.get(access_key)
        if caller is None:
            self._answer(403, {"message": "Forbidden"})
            return
        event = {
            "version": "2.0",
            "requestContext": {
                "http": {"method": "POST"},
                "authorizer": {"iam": {"userArn": caller}},
            },
            "body": body,
            "isBase64Encoded": False,
        }
        answer = decide.decide(event, None)
        self._answer(answer["statusCode"], json.loads(answer["body"]))

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def function_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FunctionUrl)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, function_url: str, tmp_path: Any) -> dict[str, Any]:
    monkeypatch.setenv("HEALSTACK_TABLE", TABLE)
    monkeypatch.setenv("HEALSTACK_APPROVERS", ONCALL)
    monkeypatch.setenv("HEALSTACK_RECOVERY", "healstack-careful-ec2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAONCALLALICE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    _FunctionUrl.identities = {
        "AKIAONCALLALICE": "arn:aws:sts::123456789012:assumed-role/oncall/alice",
        "AKIADEVELOPER": "arn:aws:sts::123456789012:assumed-role/developer/mallory",
    }
    _FunctionUrl.seen = []
    asked: list[tuple[str, str]] = []

    def lookup(base: str, key: str, region: str, endpoint: str | None = None) -> str:
        asked.append((base, key))
        return function_url

    monkeypatch.setattr("healstack.providers.aws.approval_client.decision_url", lookup)
    store = create_store(TABLE)
    now = int(time.time())
    store.put_item(
        TableName=TABLE,
        Item={
            **KEY.item_key(),
            "status": {"S": "pending"},
            "resource_id": {"S": "i-0123456789abcdef0"},
            "requested_at": {"N": str(now)},
            "expires_at": {"N": str(now + 600)},
        },
    )
    playbook = tmp_path / "careful.yaml"
    playbook.write_text(PLAYBOOK)
    return {"store": store, "playbook": str(playbook), "asked": asked}


def status(store: Any) -> str:
    return str(store.get_item(TableName=TABLE, Key=KEY.item_key())["Item"]["status"]["S"])


def test_an_approver_approves_with_a_signed_request(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["approve", KEY.id, "--playbook", world["playbook"], "--reason", "looks stuck"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    # (the stand-in runs the handler in this process: its JSON log lines come first)
    assert out.strip().splitlines()[-1] == (
        "approved: run-7/reboot/1 (reboot of i-0123456789abcdef0) by "
        "arn:aws:sts::123456789012:assumed-role/oncall/alice"
    )
    assert status(world["store"]) == "approved"
    assert world["asked"] == [("healstack-careful-ec2", "decide-approval")]
    (headers,) = _FunctionUrl.seen
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAONCALLALICE/")


def test_someone_else_is_refused_in_one_line_and_nothing_changes(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIADEVELOPER")
    code = main(["reject", KEY.id, "--playbook", world["playbook"]])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        "healstack: error: reject run-7/reboot/1: refused: the caller is not an approver of "
        "this playbook\n"
    )
    assert status(world["store"]) == "pending"


def test_a_playbook_without_approval_has_nothing_to_decide(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["approve", KEY.id])  # the shipped EC2 playbook asks for no approval
    assert code == 2
    assert "asks for no approval" in capsys.readouterr().err
