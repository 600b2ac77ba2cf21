"""Settings from options, else environment variables (how ``cdktf synth|diff|deploy`` reach a
stage, tags or an emulator: the CLI runs ``python main.py`` with no arguments), and tags."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from healstack.cli import CDKTF_OUTDIR_ENV, build_parser
from healstack.errors import UsageError
from healstack.loader import shipped_playbook_path
from healstack.providers.aws.naming import MAX_USER_TAGS, tag_problems
from healstack.settings import (
    SETTINGS_ENV,
    TAGS_ENV,
    parse_tags,
    settings_from_options,
)

NO_OPTIONS: dict[str, str | None] = dict.fromkeys(SETTINGS_ENV)


def test_defaults_without_options_or_environment() -> None:
    settings = settings_from_options(NO_OPTIONS, {})
    assert (settings.name_prefix, settings.stage, settings.region) == (
        "healstack",
        None,
        "us-east-1",
    )
    assert settings.provider_options == {} and settings.tags == {}


def test_the_environment_fills_what_no_option_gives() -> None:
    environ = {
        "HEALSTACK_PREFIX": "acme",
        "HEALSTACK_STAGE": "prod",
        "HEALSTACK_REGION": "eu-west-1",
        "HEALSTACK_AWS_ENDPOINT": "http://127.0.0.1:4566/",
        "HEALSTACK_TAGS": " team=platform , cost-center=42,",
    }
    settings = settings_from_options(NO_OPTIONS, environ)
    assert (settings.name_prefix, settings.stage, settings.region) == ("acme", "prod", "eu-west-1")
    assert settings.provider_options == {"aws": {"endpoint": "http://127.0.0.1:4566"}}
    assert settings.tags == {"cost-center": "42", "team": "platform"}


def test_an_option_wins_over_the_environment_and_an_empty_variable_is_unset() -> None:
    environ = {"HEALSTACK_STAGE": "prod", "HEALSTACK_REGION": "", "HEALSTACK_TAGS": "team=env"}
    settings = settings_from_options(
        {**NO_OPTIONS, "stage": "dev"}, environ, tags=["team=option", "owner=sre"]
    )
    assert settings.stage == "dev"
    assert settings.region == "us-east-1"
    assert settings.tags == {"owner": "sre", "team": "option"}


@pytest.mark.parametrize(
    ("options", "environ", "message"),
    [
        ({"stage": "Prod"}, {}, '--stage "Prod" is not a stage name'),
        ({}, {"HEALSTACK_STAGE": "Prod"}, 'HEALSTACK_STAGE "Prod" is not a stage name'),
        ({}, {"HEALSTACK_PREFIX": "-x"}, 'HEALSTACK_PREFIX "-x" is not a name prefix'),
        ({}, {"HEALSTACK_REGION": "mars"}, 'HEALSTACK_REGION "mars" is not an AWS region'),
        (
            {},
            {"HEALSTACK_AWS_ENDPOINT": "https://example.com"},
            'HEALSTACK_AWS_ENDPOINT "https://example.com" is not a local emulator address',
        ),
    ],
)
def test_a_bad_value_names_where_it_came_from(
    options: dict[str, str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError) as raised:
        settings_from_options({**NO_OPTIONS, **options}, environ)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_tags_parse_at_the_first_equals_sign_and_sort() -> None:
    assert parse_tags(["b=1", "a=x=y", "empty="], "--tag") == {"a": "x=y", "b": "1", "empty": ""}


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["team"], '--tag "team" is not a tag (use KEY=VALUE'),
        (["=x"], '--tag "=x" is not a tag'),
        (["team=a", "team=b"], '--tag: the tag "team" is given twice'),
    ],
)
def test_bad_tags_are_one_line_naming_the_tag(pairs: list[str], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_tags(pairs, "--tag")
    assert str(raised.value).startswith(message)


def test_aws_tag_limits() -> None:
    assert tag_problems({"team": "platform", "cost:center/1": "a b+c@d=e"}) == []
    assert tag_problems({"aws:owner": "x"}) == ['tag "aws:owner": AWS reserves the "aws:" prefix']
    assert tag_problems({"k" * 129: "x"})[0].startswith(f'tag "{"k" * 129}": a key is 1-128')
    assert tag_problems({"team": "a,b"})[0] == (
        'tag "team": its value is 0-256 letters, digits, spaces and _ . : / = + - @'
    )
    assert tag_problems({"team": "v" * 257}) != []
    many = {f"t{i}": "x" for i in range(MAX_USER_TAGS + 1)}
    assert tag_problems(many)[0].startswith(f"{MAX_USER_TAGS + 1} tags; AWS allows")


def test_a_rejected_tag_from_the_environment_fails_validate_in_one_line() -> None:
    """``validate`` checks tags like names, before any cloud code (no jsii)."""
    result = subprocess.run(
        [sys.executable, "-m", "healstack.cli", "validate", str(shipped_playbook_path())],
        env={**_clean_environ(), TAGS_ENV: "team=platform,aws:owner=me"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        'healstack: error: tag "aws:owner": AWS reserves the "aws:" prefix '
        f"(fix it in --tag or ${TAGS_ENV})\n"
    )


def test_synth_writes_where_the_cdktf_cli_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    """``cdktf synth --output DIR`` sets CDKTF_OUTDIR for the app and reads DIR/manifest.json."""
    monkeypatch.setenv(CDKTF_OUTDIR_ENV, "/elsewhere/out")
    assert build_parser().parse_args(["synth"]).out == Path("/elsewhere/out")
    assert build_parser().parse_args(["synth", "--out", "x"]).out == Path("x")
    monkeypatch.delenv(CDKTF_OUTDIR_ENV)
    assert build_parser().parse_args(["synth"]).out == Path("cdktf.out")


def _clean_environ() -> dict[str, str]:
    names = {*SETTINGS_ENV.values(), TAGS_ENV, CDKTF_OUTDIR_ENV}
    return {k: v for k, v in os.environ.items() if k not in names}
