"""The declared hashicorp/aws range (``versions.DEFAULT_CONSTRAINT``, ``>= 5.100.0, < 7.0.0``)
is proven at both ends: every argument, block and referenced attribute of every shipped stack
and of the generated Terraform module exists, with a value of a fitting shape, in the schema of
5.100.0 (also ``terraform validate``d with the real provider elsewhere in the suite) and of
6.69.1 (the snapshot ``scripts/aws_schema.py jsii`` rebuilt from cdktn-provider-aws 25.8.1's
jsii assembly; no terraform here can load 6.x).

The 6.x differences that touch what healstack emits (``EMITTED_DIFFERENCES``, pinned below;
the full list with the ones healstack avoids is in ``providers/aws/schema_check.py``):

* ``aws_cloudwatch_metric_alarm.comparison_operator`` and ``.evaluation_periods``: required in
  5.100.0, optional in 6.x (PromQL alarms); healstack sets both, so both ends take them.
* ``data.aws_region.*.name`` (read for ARNs and endpoints): deprecated by 6.0 in favour of
  ``region``, which 5.100.0 lacks; ``name`` is the one spelling both ends read (a deprecation
  warning on 6.x, ``schema_check.notices``).
* ``aws_s3_bucket.region``: the bucket's own region in 5.100.0 (computed), the request region
  in 6.x (the bucket's own is ``bucket_region``); healstack neither sets nor reads it, and
  ``problems`` names either use (planted below).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from healstack.loader import shipped_playbook_path, shipped_playbooks
from healstack.providers.aws import schema_check, versions
from healstack.providers.aws.schema_check import problems
from tests.conftest import REPO, healstack_here, load_stack

SCHEMA_DIR = REPO / "providers" / "aws" / "schema"
WEB = REPO / "examples" / "platform-terraform" / "playbooks" / "web-instance-recovery.yaml"
#: the shipped stacks (each named as its playbook file)
STACKS = [Path(name).stem for name in shipped_playbooks()]


def snapshot(version: str) -> dict[str, Any]:
    return schema_check.load_snapshot(version)


def aws_schema() -> Any:
    """scripts/aws_schema.py as a module (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location("aws_schema", REPO / "scripts" / "aws_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("aws_schema", module)
    spec.loader.exec_module(module)
    return module


def walk(block: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted path, spec) of every attribute and block of a schema block, recursively
    (a block's spec with its ``block`` left out)."""
    for name, spec in block.get("attributes", {}).items():
        yield f"{path}.{name}", spec
    for name, spec in block.get("block_types", {}).items():
        yield f"{path}.{name}", {k: v for k, v in spec.items() if k != "block"}
        yield from walk(spec["block"], f"{path}.{name}")


def flat(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = dict(walk(document["provider_schema"], "provider"))
    for kind, block in document["resource_schemas"].items():
        out.update(walk(block, kind))
    for kind, block in document["data_source_schemas"].items():
        out.update(walk(block, f"data.{kind}"))
    return out


# -- (a) the converter -------------------------------------------------------------------------


def bindings_folder() -> Path | None:
    """The installed 5.100.0-era bindings (cdktf-cdktf-provider-aws 20.1.0), found without
    importing them (their ``__init__`` loads every resource)."""
    spec = importlib.util.find_spec("cdktf_cdktf_provider_aws")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    return folder if list(folder.glob("_jsii/*.jsii.tgz")) else None


@pytest.fixture(scope="module")
def rebuilt_5_100_0() -> dict[str, Any]:
    folder = bindings_folder()
    if folder is None:
        pytest.skip("cdktf-cdktf-provider-aws (20.1.0, aws 5.100.0) is not installed in this venv")
    module = aws_schema()
    assembly, where, sources = module.read_package(folder)
    assert assembly["version"] == "20.1.0", where
    rebuilt: dict[str, Any] = module.from_assembly(assembly, where, sources)
    return rebuilt


def test_the_jsii_converter_rebuilds_the_5_100_0_snapshot_from_the_20_1_0_assembly(
    rebuilt_5_100_0: dict[str, Any],
) -> None:
    """What ``aws_schema.py jsii`` does to cdktn-provider-aws 25.8.1 (aws 6.69.1), done to the
    bindings of the pinned version, gives ``terraform providers schema``'s names, types and
    required arguments for every type healstack uses: the converter (doc-link anchors for
    arguments, the generated code's getter names for computed attributes, set vs list) is
    right where it can be checked. What an assembly cannot tell (``notes``) is left out."""
    assert rebuilt_5_100_0["version"] == "5.100.0"
    terraform = flat(snapshot("5.100.0"))
    rebuilt = flat(rebuilt_5_100_0)
    assert sorted(set(terraform) - set(rebuilt)) == []  # missed
    assert sorted(set(rebuilt) - set(terraform)) == []  # invented
    wrong = []
    for path, spec in terraform.items():
        mine = rebuilt[path]
        if "nesting_mode" in spec:  # a block; single is a one-item list to jsii
            mode = "list" if spec["nesting_mode"] == "single" else spec["nesting_mode"]
            if (mode, bool(spec.get("min_items"))) != (
                mine["nesting_mode"],
                bool(mine.get("min_items")),
            ):
                wrong.append(f"{path}: {spec} rebuilt as {mine}")
        elif (spec["type"], spec.get("required", False), spec.get("computed", False)) != (
            mine["type"],
            mine.get("required", False),
            mine.get("computed", False) or (spec.get("computed", False) and "optional" in mine),
        ):
            wrong.append(f"{path}: {spec} rebuilt as {mine}")
    assert wrong == []


def test_snake_case_alone_is_not_the_terraform_name() -> None:
    """Why the converter reads names from the assembly's doc links and the generated code:
    cdktf's camelCase loses an underscore before a digit and renames reserved words."""
    module = aws_schema()
    assert module.snake("kmsKeyId") == "kms_key_id"
    assert module.snake("s3UsePathStyle") == "s3_use_path_style"
    assert module.snake("ipv6CidrBlock") == "ipv6_cidr_block"
    assert module.snake("checksumCrc32C") == "checksum_crc32_c"  # terraform: checksum_crc32c
    prop = {
        "name": "addressLine1",
        "docs": {
            "summary": "Docs at Terraform Registry: {@link https://registry.terraform.io/"
            "providers/hashicorp/aws/6.69.1/docs/resources/x#address_line_1 X#address_line_1}."
        },
    }
    assert module.terraform_name(prop) == "address_line_1"


def test_the_6_69_1_snapshot_names_its_provenance_and_covers_every_type() -> None:
    document = snapshot("6.69.1")
    assert document["version"] == versions.PROVEN[1]
    source = document["source"]
    assert "PyPI cdktn-provider-aws 25.8.1" in source
    assert re.search(r"sha256 [0-9a-f]{64}", source), source
    assert "_jsii/provider-aws@25.8.1.jsii.tgz:package/.jsii" in source
    assert "binds hashicorp/aws 6.69.1" in source
    wanted = json.loads((SCHEMA_DIR / "types.json").read_text())
    assert sorted(document["resource_schemas"]) == sorted(wanted["resources"])
    assert sorted(document["data_source_schemas"]) == sorted(wanted["data_sources"])
    assert document["notes"]  # what the assembly could not tell
    assert snapshot("5.100.0")["version"] == versions.PROVEN[0]


# -- (b) the shipped stacks, (c) the module ------------------------------------------------------


@pytest.mark.parametrize("version", versions.PROVEN)
@pytest.mark.parametrize("name", STACKS)
def test_every_shipped_stack_fits_both_ends_of_the_range(
    synthesized: Path, name: str, version: str
) -> None:
    stack = load_stack(synthesized, name)
    assert stack["terraform"]["required_providers"]["aws"]["version"] == (
        versions.DEFAULT_CONSTRAINT
    )
    assert problems(stack, snapshot(version)) == []


@pytest.fixture(scope="module")
def module_document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``healstack module build`` of the playbooks tests/reuse/test_module.py builds; its
    ``main.tf.json`` with the outputs of ``outputs.tf.json`` (which read main's resources)."""
    out = tmp_path_factory.mktemp("range-module") / "module"
    args = [a for p in (shipped_playbook_path(), WEB) for a in ("--playbook", str(p))]
    healstack_here("module", "build", *args, "--out", str(out))
    document = dict(json.loads((out / "main.tf.json").read_text()))
    document["output"] = json.loads((out / "outputs.tf.json").read_text())["output"]
    return document


@pytest.mark.parametrize("version", versions.PROVEN)
def test_the_generated_module_fits_both_ends_of_the_range(
    module_document: dict[str, Any], version: str
) -> None:
    assert module_document["resource"]
    assert problems(module_document, snapshot(version)) == []


def used(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The schema paths (``flat``'s) a document sets or reads."""
    paths: set[str] = set()

    def visit(body: Any, block: dict[str, Any], path: str) -> None:
        if not isinstance(body, dict):
            return
        for key, value in body.items():
            if key in block.get("attributes", {}):
                paths.add(f"{path}.{key}")
            elif key in block.get("block_types", {}):
                paths.add(f"{path}.{key}")
                for item in value if isinstance(value, list) else [value]:
                    visit(item, block["block_types"][key]["block"], f"{path}.{key}")

    for config in document.get("provider", {}).get("aws", []):
        visit(config, schema["provider_schema"], "provider")
    for section, kind, _address, body in schema_check.blocks_of(document):
        prefix = "data." if section == "data" else ""
        schemas = schema["data_source_schemas" if prefix else "resource_schemas"]
        visit(body, schemas[kind], f"{prefix}{kind}")
    for _path, text in schema_check.strings(document, ""):
        for expression in schema_check.interpolations(text):
            for ref in schema_check.REFERENCE.finditer(expression):
                step = schema_check.STEP.match(ref.group("path"))
                if step and step.group(1):
                    paths.add(f"{ref.group('data') or ''}{ref.group('type')}.{step.group(1)}")
    return paths


#: what healstack sets or reads whose type or requiredness differs between the two ends
EMITTED_DIFFERENCES = {
    "aws_cloudwatch_metric_alarm.comparison_operator": "required -> optional",
    "aws_cloudwatch_metric_alarm.evaluation_periods": "required -> optional",
}


def test_the_6x_differences_healstack_touches_are_the_known_ones(
    synthesized: Path, module_document: dict[str, Any]
) -> None:
    old, new = snapshot("5.100.0"), snapshot("6.69.1")
    documents = [load_stack(synthesized, name) for name in STACKS]
    paths = set().union(*(used(d, old) for d in [*documents, module_document]))
    before, after = flat(old), flat(new)
    found = {}
    for path in sorted(paths):
        a, b = before[path], after.get(path)
        assert b is not None, f"{path} is gone in 6.69.1"
        if a.get("type") != b.get("type"):
            found[path] = f"{a.get('type')} -> {b.get('type')}"
        elif a.get("required", False) != b.get("required", False):
            found[path] = " -> ".join(
                "required" if s.get("required") else "optional" for s in (a, b)
            )
    assert found == EMITTED_DIFFERENCES
    assert "data.aws_region.name" in paths  # deprecated in 6.x: notices() says so
    for document in documents:
        (notice,) = schema_check.notices(document, new)
        assert re.fullmatch(
            r"data\.aws_region\.\*\.name \(read \d+ times\): deprecated from aws 6\.0 for "
            r"region \(which 5\.100\.0 lacks\)",
            notice,
        ), notice
        assert schema_check.notices(document, old) == []


# -- (d) problems() finds planted mistakes ------------------------------------------------------


@pytest.fixture
def stack(synthesized: Path) -> dict[str, Any]:
    return copy.deepcopy(load_stack(synthesized, "ec2-status-check-recovery"))


def first(document: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    name = sorted(document["resource"][kind])[0]
    return name, document["resource"][kind][name]


@pytest.mark.parametrize("version", versions.PROVEN)
def test_problems_finds_planted_mistakes(stack: dict[str, Any], version: str) -> None:
    queue, queue_body = first(stack, "aws_sqs_queue")
    queue_body["visibility_timeout_secondz"] = 30  # an unknown argument
    function, function_body = first(stack, "aws_lambda_function")
    function_body["environment"] = "FOO=bar"  # a string where a block goes
    function_body["memory_size"] = ["128"]  # a list where a number goes
    role, role_body = first(stack, "aws_iam_role")
    del role_body["assume_role_policy"]  # a required argument
    role_body["arn"] = "arn:aws:iam::123456789012:role/x"  # computed only
    topic, topic_body = first(stack, "aws_sns_topic")
    topic_body["display_name"] = f"${{aws_sqs_queue.{queue}.no_such_attribute}}"
    topic_body["name"] = "${aws_sqs_queue.not_declared.arn}"
    stack["provider"]["aws"][0]["regoin"] = "us-east-1"
    found = problems(stack, snapshot(version))
    expected = [
        f"aws_sqs_queue.{queue}: argument visibility_timeout_secondz is not in {version}",
        f"aws_lambda_function.{function}.environment: a string where a block goes ({version})",
        f"aws_lambda_function.{function}: argument memory_size: a list where a number goes ({version})",
        f"aws_iam_role.{role}: required argument assume_role_policy is missing ({version})",
        f"aws_iam_role.{role}: argument arn is computed only in {version}",
        f"aws_sns_topic.{topic}.display_name: refers to aws_sqs_queue.{queue}.no_such_attribute: no attribute no_such_attribute in {version}",
        f"aws_sns_topic.{topic}.name: refers to aws_sqs_queue.not_declared, which the document does not declare",
        f"provider.aws[0]: argument regoin is not in {version}",
    ]
    assert sorted(found) == sorted(expected)


def test_problems_knows_what_aws_6_did_to_the_buckets_region(stack: dict[str, Any]) -> None:
    bucket, body = first(stack, "aws_s3_bucket")
    body["region"] = "eu-west-1"
    _topic, topic_body = first(stack, "aws_sns_topic")
    topic_body["display_name"] = f"${{aws_s3_bucket.{bucket}.region}}"
    assert problems(stack, snapshot("5.100.0")) == [
        f"aws_s3_bucket.{bucket}: argument region is computed only in 5.100.0"
    ]
    meaning = "is in 6.69.1 the bucket's request region, not the bucket's own (aws 6.0 moved it to bucket_region)"
    assert sorted(problems(stack, snapshot("6.69.1"))) == sorted(
        [
            f"aws_s3_bucket.{bucket}: argument region {meaning}",
            f"aws_sns_topic.{_topic}.display_name: refers to aws_s3_bucket.{bucket}.region, which {meaning}",
        ]
    )


def test_problems_reads_nested_blocks_deep_references_and_escapes(stack: dict[str, Any]) -> None:
    function, body = first(stack, "aws_lambda_function")
    body["environment"] = [{"variables": {"A": "b"}, "varaibles": {}}]  # nested unknown
    _topic, topic_body = first(stack, "aws_sns_topic")
    topic_body["display_name"] = (
        f"${{aws_lambda_function.{function}.environment[0].variables}}"  # a block's attribute
        f" $${{not.a.reference}} ${{aws_lambda_function.{function}.logging_config[0].nope}}"
    )
    version = "6.69.1"
    assert sorted(problems(stack, snapshot(version))) == [
        f"aws_lambda_function.{function}.environment: argument varaibles is not in {version}",
        f"aws_sns_topic.{_topic}.display_name: refers to aws_lambda_function.{function}"
        f".logging_config[0].nope: no attribute nope in {version}",
    ]


def test_tokens_stand_for_any_scalar_but_not_for_a_block(stack: dict[str, Any]) -> None:
    _queue, body = first(stack, "aws_sqs_queue")
    body["visibility_timeout_seconds"] = "${var.timeout}"
    body["fifo_queue"] = "${var.fifo}"
    body["tags"] = "${var.tags}"
    assert problems(stack, snapshot("5.100.0")) == []
    function, function_body = first(stack, "aws_lambda_function")
    function_body["tracing_config"] = "${var.tracing}"
    assert problems(stack, snapshot("5.100.0")) == [
        f"aws_lambda_function.{function}.tracing_config: a string where a block goes (5.100.0)"
    ]


# -- version constraints ------------------------------------------------------------------------


def test_the_default_constraint_spans_exactly_the_proven_versions() -> None:
    default = versions.DEFAULT_CONSTRAINT
    assert all(versions.allows(default, v) for v in versions.PROVEN)
    assert not versions.allows(default, "5.99.0")
    assert not versions.allows(default, "7.0.0")
    assert versions.allows(default, "6.99.99")


@pytest.mark.parametrize(
    ("choice", "meets"),
    [
        ("~> 6.0", True),
        ("5.99.0", False),
        (">= 5.100.0, < 6.0.0", True),
        ("= 6.69.1", True),
        ("~> 4.0", False),
        ("~> 5.100", True),
        ("> 5.100.0, < 5.100.1", False),  # no version between
        ("~> 6.69.1", True),
        ("!= 6.0.0", True),
    ],
)
def test_intersects_reasons_on_the_bounds(choice: str, meets: bool) -> None:
    assert versions.intersects(choice, versions.DEFAULT_CONSTRAINT) is meets


@pytest.mark.parametrize(
    ("text", "allowed", "refused"),
    [
        ("~> 6.0", ["6.0.0", "6.69.1"], ["5.100.0", "7.0.0"]),
        ("~> 6.1.2", ["6.1.2", "6.1.9"], ["6.2.0", "6.1.1"]),
        ("~> 6", ["6.0.0", "6.99.0"], ["7.0.0"]),
        (">= 5.100.0, != 6.0.0, < 7.0.0", ["6.0.1", "5.100.0"], ["6.0.0"]),
        ("6.69.1", ["6.69.1"], ["6.69.2", "6.69.0"]),
        ("> 6.0, <= 6.2", ["6.0.1", "6.2.0"], ["6.0.0", "6.2.1"]),
    ],
)
def test_allows(text: str, allowed: list[str], refused: list[str]) -> None:
    assert [versions.allows(text, v) for v in allowed] == [True] * len(allowed)
    assert [versions.allows(text, v) for v in refused] == [False] * len(refused)


def test_check_user_choice() -> None:
    assert versions.check_user_choice("~> 6.0") is None
    assert versions.check_user_choice(">= 5.100.0, < 6.0.0") is None
    assert versions.check_user_choice("= 6.69.1") is None
    assert versions.check_user_choice("~> 4.0") == (
        "aws provider version '~> 4.0' allows no version of the proven range "
        ">= 5.100.0, < 7.0.0 (proven against 5.100.0 and 6.69.1)"
    )
    assert "allows no version of the proven range" in (versions.check_user_choice("5.99.0") or "")
    assert "outside the proven range" in (versions.check_user_choice(">= 6.0") or "")
    assert "is not a version constraint" in (versions.check_user_choice("~> six") or "")
    assert "is not a version constraint" in (versions.check_user_choice("6.0.0-beta1") or "")
    assert "allows no version at all" in (versions.check_user_choice("> 6.0.0, < 6.0.1") or "")
    assert versions.check_user_choice("") is not None
