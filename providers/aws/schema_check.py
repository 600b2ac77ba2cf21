"""Does a synthesized Terraform JSON document fit a provider schema snapshot?

``problems(document, snapshot)`` reads a ``cdk.tf.json`` (or the generated module's
``main.tf.json``) against one of ``providers/aws/schema/aws-<version>.json`` (see
``scripts/aws_schema.py``) and names, one line each, what that provider version would not
take: an argument or nested block the type does not have, a value of the wrong shape (a
string where a block goes, a list where a string goes ...), a required argument or block
missing, a computed-only attribute set, and a reference ``${aws_x.name.attr...}`` to an
attribute the type does not have. Pure Python: no cdktf, no jsii.

The 6.x differences that touch what healstack emits (5.100.0 against 6.69.1, the two ends of
``versions.DEFAULT_CONSTRAINT``; every other emitted argument, block and reference exists in
both with the same type, as tests/reuse/test_provider_range.py proves):

* ``aws_s3_bucket.region``: in 5.100.0 the bucket's own region (computed only); from 6.0 the
  per-resource *request* region every regional resource gained (optional), the bucket's own
  region being ``bucket_region``. healstack neither sets nor reads it: setting it would fail
  5.100.0, reading it would mean something else on each end (``SEMANTIC``).
* ``region`` on every regional resource and data source (38 of the types healstack uses):
  new and optional in 6.x, absent from 5.100.0; healstack leaves it unset (the provider's
  region), which means the same on both ends.
* ``data.aws_region.*.name``: the region's name on both ends; 6.0 deprecates it for the new
  ``region`` (which 5.100.0 lacks), so healstack keeps ``name``, the only spelling both ends
  read (``DEPRECATED``; a deprecation warning on 6.x, no error).
* ``aws_cloudwatch_metric_alarm``: ``comparison_operator`` and ``evaluation_periods`` are
  optional in 6.x (required in 5.100.0, PromQL alarms); healstack sets both.
* ``aws_dynamodb_table.global_secondary_index.hash_key`` became optional+computed (the new
  ``key_schema``); healstack's table has no secondary index.
* provider ``endpoints``: 6.x dropped seven (iotanalytics, iotevents, lookoutmetrics, opsworks,
  sdb, simpledb, worklink) and added others; healstack's emulator endpoints use none of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"

#: keys of a resource or data block that terraform handles itself (and cdktf's ``//``)
META = frozenset(
    {"//", "count", "for_each", "depends_on", "lifecycle", "provider", "provisioner", "connection"}
)
#: keys of a provider configuration that are not provider arguments
PROVIDER_META = frozenset({"alias", "//"})

#: (type, argument): why an argument means something else from aws 6.0 on (checked against a
#: 6.x snapshot, for arguments set and attributes referenced)
SEMANTIC: dict[tuple[str, str], str] = {
    ("aws_s3_bucket", "region"): (
        "is in {version} the bucket's request region, not the bucket's own "
        "(aws 6.0 moved it to bucket_region)"
    ),
}
#: (data source or type, attribute): deprecated from aws 6.0 on, still read (``notices``)
DEPRECATED: dict[tuple[str, str], str] = {
    ("aws_region", "name"): "deprecated from aws 6.0 for region (which 5.100.0 lacks)",
}


def load_snapshot(version: str) -> dict[str, Any]:
    """The shipped snapshot ``aws-<version>.json``."""
    return dict(json.loads((SCHEMA_DIR / f"aws-{version}.json").read_text()))


def major(snapshot: dict[str, Any]) -> int:
    return int(str(snapshot["version"]).split(".")[0])


# -- values -----------------------------------------------------------------------------------


def interpolations(text: str) -> Iterator[str]:
    """The expressions of the ``${...}`` in ``text`` (``$${`` is a literal, no expression)."""
    at = 0
    while True:
        start = text.find("${", at)
        if start < 0:
            return
        if start > 0 and text[start - 1] == "$":
            at = start + 2
            continue
        depth, end = 0, start + 2
        while end < len(text):
            char = text[end]
            if char == "{":
                depth += 1
            elif char == "}":
                if depth == 0:
                    break
                depth -= 1
            end += 1
        yield text[start + 2 : end]
        at = end + 1


def is_token(value: Any) -> bool:
    """A string that is one whole ``${...}`` expression (its type is known only to terraform)."""
    if not isinstance(value, str) or not value.startswith("${") or not value.endswith("}"):
        return False
    return next(interpolations(value), None) == value[2:-1]


def has_token(value: Any) -> bool:
    return isinstance(value, str) and next(interpolations(value), None) is not None


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def type_name(kind: Any) -> str:
    if isinstance(kind, str):
        return kind
    if kind[0] == "object":
        return "object"
    return f"{kind[0]}({type_name(kind[1])})"


def fits(value: Any, kind: Any) -> str | None:
    """Why ``value`` does not fit the terraform type ``kind``, or None."""
    if value is None or kind == "dynamic" or is_token(value):
        return None
    if kind == "string":
        ok = isinstance(value, str | int | float | bool)
    elif kind == "number":
        ok = (isinstance(value, int | float) and not isinstance(value, bool)) or (
            isinstance(value, str) and (has_token(value) or _numeric(value))
        )
    elif kind == "bool":
        ok = isinstance(value, bool) or value in ("true", "false") or has_token(value)
    elif isinstance(kind, list) and kind[0] in ("list", "set"):
        if not isinstance(value, list):
            return f"{describe(value)} where a {type_name(kind)} goes"
        for index, item in enumerate(value):
            why = fits(item, kind[1])
            if why:
                return f"[{index}]: {why}"
        return None
    elif isinstance(kind, list) and kind[0] == "map":
        if not isinstance(value, dict):
            return f"{describe(value)} where a {type_name(kind)} goes"
        for key, item in value.items():
            why = fits(item, kind[1])
            if why:
                return f"[{key!r}]: {why}"
        return None
    elif isinstance(kind, list) and kind[0] == "object":
        if not isinstance(value, dict):
            return f"{describe(value)} where an object goes"
        for key, item in value.items():
            if key not in kind[1]:
                return f"{key}: no such field"
            why = fits(item, kind[1][key])
            if why:
                return f"{key}: {why}"
        return None
    else:
        return None  # a type this checker does not know: terraform's to judge
    return None if ok else f"{describe(value)} where a {type_name(kind)} goes"


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- blocks -----------------------------------------------------------------------------------


def block_problems(
    body: Any, block: dict[str, Any], where: str, version: str, skip: frozenset[str]
) -> list[str]:
    """The problems of one block body (a resource's, a nested block's, the provider's)."""
    if not isinstance(body, dict):
        return [f"{where}: {describe(body)} where a block goes"]
    found: list[str] = []
    attributes = block.get("attributes", {})
    nested = block.get("block_types", {})
    for key, value in body.items():
        if key in skip:
            continue
        if key in attributes:
            spec = attributes[key]
            if spec.get("computed") and not (spec.get("optional") or spec.get("required")):
                found.append(f"{where}: argument {key} is computed only in {version}")
                continue
            why = fits(value, spec.get("type", "dynamic"))
            if why:
                found.append(f"{where}: argument {key}: {why} ({version})")
        elif key in nested:
            found += nested_problems(value, nested[key], f"{where}.{key}", version)
        else:
            found.append(f"{where}: argument {key} is not in {version}")
    for key, spec in sorted(attributes.items()):
        if spec.get("required") and body.get(key) is None:
            found.append(f"{where}: required argument {key} is missing ({version})")
    for key, spec in sorted(nested.items()):
        if spec.get("min_items", 0) >= 1 and not body.get(key):
            found.append(f"{where}: required block {key} is missing ({version})")
    return found


def nested_problems(value: Any, spec: dict[str, Any], where: str, version: str) -> list[str]:
    """A nested block's value: one object, or a list of them (terraform JSON takes both)."""
    if isinstance(value, dict):
        items = [value]
    elif isinstance(value, list):
        items = value
    else:
        return [f"{where}: {describe(value)} where a block goes ({version})"]
    found: list[str] = []
    limit = spec.get("max_items")
    if limit is not None and len(items) > limit:
        found.append(f"{where}: {len(items)} blocks, at most {limit} ({version})")
    for index, item in enumerate(items):
        label = where if len(items) == 1 else f"{where}[{index}]"
        found += block_problems(item, spec["block"], label, version, frozenset())
    return found


# -- references -------------------------------------------------------------------------------

REFERENCE = re.compile(
    r"(?<![\w.\-])(?P<data>data\.)?(?P<type>aws_\w+)\.(?P<name>[A-Za-z_][\w\-]*)"
    r"(?P<path>(?:\.\w+|\[[^\]]*\])*)"
)
STEP = re.compile(r"\.(\w+)|\[([^\]]*)\]")


def reference_problems(
    expression: str, document: dict[str, Any], snapshot: dict[str, Any], where: str
) -> list[str]:
    """The problems of the resource and data source references in one expression."""
    found: list[str] = []
    version = snapshot["version"]
    for ref in REFERENCE.finditer(expression):
        kind, name = ref.group("type"), ref.group("name")
        data = bool(ref.group("data"))
        address = f"{'data.' if data else ''}{kind}.{name}"
        declared = document.get("data" if data else "resource", {}).get(kind, {})
        schemas = snapshot["data_source_schemas" if data else "resource_schemas"]
        if name not in declared:
            found.append(f"{where}: refers to {address}, which the document does not declare")
            continue
        if kind not in schemas:
            continue  # reported where it is declared
        steps = [(m.group(1), m.group(2)) for m in STEP.finditer(ref.group("path"))]
        why = path_problem(schemas[kind], steps)
        if why:
            found.append(f"{where}: refers to {address}{ref.group('path')}: {why} in {version}")
        elif steps and steps[0][0] and major(snapshot) >= 6 and (kind, steps[0][0]) in SEMANTIC:
            meaning = SEMANTIC[(kind, steps[0][0])].format(version=version)
            found.append(f"{where}: refers to {address}.{steps[0][0]}, which {meaning}")
    return found


def path_problem(block: dict[str, Any], steps: list[tuple[str | None, str | None]]) -> str | None:
    """Why the attribute path ``steps`` (``.name`` or ``[index]`` each) is not in ``block``."""
    current: Any = block
    for attribute, index in steps:
        if index is not None:  # into a list, set, map or repeated block: the element
            if isinstance(current, list) and current[0] in ("list", "set", "map"):
                current = current[1]
            continue
        if isinstance(current, dict) and ("attributes" in current or "block_types" in current):
            if attribute in current.get("attributes", {}):
                current = current["attributes"][attribute].get("type", "dynamic")
            elif attribute in current.get("block_types", {}):
                current = current["block_types"][attribute]["block"]
            else:
                return f"no attribute {attribute}"
        elif isinstance(current, list) and current[0] == "object":
            if attribute not in current[1]:
                return f"no attribute {attribute}"
            current = current[1][attribute]
        elif current == "dynamic":
            return None
        elif isinstance(current, dict):  # an empty block
            return f"no attribute {attribute}"
        else:
            return f"{attribute} of a {type_name(current)}"
    return None


def strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in ``value`` with the argument path that holds it."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for item in value:
            yield from strings(item, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "//":
                yield from strings(item, f"{path}.{key}" if path else key)


# -- documents --------------------------------------------------------------------------------


def blocks_of(document: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(``resource`` or ``data``, type, address, body) of every resource and data source."""
    for section in ("resource", "data"):
        for kind, instances in sorted(document.get(section, {}).items()):
            for name, body in sorted(instances.items()):
                prefix = "data." if section == "data" else ""
                yield section, kind, f"{prefix}{kind}.{name}", body


def problems(document: dict[str, Any], snapshot: dict[str, Any]) -> list[str]:
    """What the provider version of ``snapshot`` would not take in ``document``, a line each
    naming the address and the argument."""
    version = snapshot["version"]
    found: list[str] = []
    for index, config in enumerate(document.get("provider", {}).get("aws", [])):
        where = f"provider.aws[{index}]"
        found += block_problems(config, snapshot["provider_schema"], where, version, PROVIDER_META)
    for section, kind, address, body in blocks_of(document):
        schemas = snapshot["resource_schemas" if section == "resource" else "data_source_schemas"]
        if kind not in schemas:
            found.append(f"{address}: {kind} is not in the snapshot of {version}")
            continue
        found += block_problems(body, schemas[kind], address, version, META)
        if major(snapshot) >= 6 and isinstance(body, dict):
            for (semantic_type, argument), meaning in sorted(SEMANTIC.items()):
                if semantic_type == kind and section == "resource" and argument in body:
                    found.append(
                        f"{address}: argument {argument} {meaning.format(version=version)}"
                    )
    for _section, _kind, address, body in blocks_of(document):
        for path, text in strings(body, ""):
            for expression in interpolations(text):
                found += reference_problems(expression, document, snapshot, f"{address}.{path}")
    for name, output in sorted(document.get("output", {}).items()):
        for _path, text in strings(output, ""):
            for expression in interpolations(text):
                found += reference_problems(expression, document, snapshot, f"output.{name}")
    return list(dict.fromkeys(found))  # once each, in order


def notices(document: dict[str, Any], snapshot: dict[str, Any]) -> list[str]:
    """Deprecated attributes ``document`` reads that ``snapshot``'s version still has
    (``DEPRECATED``): no problem today, a change before the range reaches 7.0."""
    if major(snapshot) < 6:
        return []
    seen: dict[tuple[str, str, str], int] = {}
    for _section, _kind, _address, body in blocks_of(document):
        for _path, text in strings(body, ""):
            for expression in interpolations(text):
                for ref in REFERENCE.finditer(expression):
                    step = STEP.match(ref.group("path"))
                    key = (
                        ref.group("data") or "",
                        ref.group("type"),
                        step.group(1) if step else "",
                    )
                    if key[1:] in DEPRECATED:
                        seen[key] = seen.get(key, 0) + 1
    return [
        f"{data}{kind}.*.{attribute} (read {count} times): {DEPRECATED[(kind, attribute)]}"
        for (data, kind, attribute), count in sorted(seen.items())
    ]
