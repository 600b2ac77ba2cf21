"""``[access]`` in healstack.toml: who may upload the pipeline's source and who may subscribe
to the topic, reviewed in the repository like the state backend, checked before synthesis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from healstack.cli import main
from tests.conftest import load_stack, synth_here

DEPLOYER = "arn:aws:iam::123456789012:role/platform-deployer"
ADMIN = "arn:aws:iam::123456789012:role/platform-admin"


def statements(stack: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    (found,) = stack["resource"][kind].values()
    return list(json.loads(found["policy"])["Statement"])


def test_named_uploaders_and_subscriber_admins_reach_the_policies(tmp_path: Path) -> None:
    config = tmp_path / "healstack.toml"
    config.write_text(
        f'[access]\npipeline_uploaders = ["{DEPLOYER}"]\ntopic_subscriber_admins = ["{ADMIN}"]\n'
    )
    out = tmp_path / "cdktf.out"
    synth_here(out, "--config", str(config))
    stack = load_stack(out, "ec2-status-check-recovery")
    bucket = json.dumps(statements(stack, "aws_s3_bucket_policy"))
    topic = json.dumps(statements(stack, "aws_sns_topic_policy"))
    assert DEPLOYER in bucket and ADMIN not in bucket
    assert ADMIN in topic and DEPLOYER not in topic


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[access]\npipeline_uploaders = ["deployer"]\n',
            'access.pipeline_uploaders[0]: "deployer" is not an IAM role, user or account ARN',
        ),
        (
            '[access]\npipeline_uploaders = "arn:aws:iam::123456789012:role/x"\n',
            "access.pipeline_uploaders: is not a list of principals",
        ),
        ("[access]\nuploaders = []\n", "access.uploaders: unknown setting"),
        (
            '[access]\ntopic_subscriber_admins = ["arn:aws:iam::123456789012:role/*"]\n',
            'access.topic_subscriber_admins[0]: "arn:aws:iam::123456789012:role/*" is not',
        ),
        ("[acess]\n", "[acess]: unknown table (healstack.toml has [state], [access], [hub])"),
    ],
)
def test_a_bad_access_table_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, message: str
) -> None:
    config = tmp_path / "healstack.toml"
    config.write_text(table)
    out = tmp_path / "cdktf.out"
    assert main(["synth", "--config", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()
