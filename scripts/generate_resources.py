#!/usr/bin/env python3
"""Generate ``providers/aws/resources.py``: healstack's typed AWS resource layer.

    python scripts/generate_resources.py            # write it
    python scripts/generate_resources.py --check    # exit 1 when it is stale

From the pinned provider's schema snapshot (``providers/aws/schema/aws-<PINNED>.json``,
written by ``scripts/aws_schema.py terraform``), one class per resource and data source type
of ``providers/aws/schema/types.json`` and the provider block: keyword-only, typed arguments
(a nested block is a ``TypedDict``; a block of at most one item is that dict, or a list of
it), typed attribute getters that return references, and setters for the arguments. The
classes stand on ``providers/aws/resource_base.py``, which checks every argument against
the schema and returns them for synthesis unchanged. Deterministic: same snapshot, same file.
"""

from __future__ import annotations

import argparse
import json
import keyword
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO / "providers" / "aws" / "schema"
OUT = REPO / "providers" / "aws" / "resources.py"
META_ARGUMENTS = ("depends_on", "lifecycle", "provider", "count", "for_each")
#: names the properties never took (before the core's members were counted too)
RESERVED = ("node", "fqn", "attr", "argument")


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def class_name(kind: str, data: bool = False) -> str:
    base = camel(kind.removeprefix("aws_"))
    return f"DataAws{base}" if data else base


def py_name(name: str) -> str:
    return f"{name}_" if keyword.iskeyword(name) else name


def annotation(tf_type: Any) -> str:
    """The Python type an argument of this Terraform type takes (a token is a ``str``)."""
    if tf_type == "string":
        return "str"
    if tf_type == "number":
        return "float"
    if tf_type == "bool":
        return "bool"
    if isinstance(tf_type, list) and tf_type[0] in ("list", "set"):
        return f"Sequence[{annotation(tf_type[1])}]"
    if isinstance(tf_type, list) and tf_type[0] == "map":
        return f"Mapping[str, {annotation(tf_type[1])}]"
    return "Any"


def getter(name: str, tf_type: Any) -> tuple[str, str]:
    """(return annotation, expression) of the reference to attribute ``name`` (read once per
    resource: ``resource_base._Arguments._reference``)."""
    if tf_type == "string":
        return "str", f'self._string_reference("{name}")'
    if tf_type == "number":
        return "float", f'self._number_reference("{name}")'
    if isinstance(tf_type, list) and tf_type[0] in ("list", "set") and tf_type[1] == "string":
        return "list[str]", f'self._list_reference("{name}")'
    if tf_type == ["map", "string"]:
        return "Mapping[str, str]", f'self._map_reference("{name}")'
    return "Any", f'self._any_reference("{name}")'


def settable(spec: dict[str, Any]) -> bool:
    return bool(spec.get("optional") or spec.get("required"))


class Writer:
    def __init__(self, classes: set[str], version: str, reserved: set[str]) -> None:
        self.version = version
        #: names an attribute property must not take (it would hide or be hidden by them)
        self.reserved = reserved
        self.lines: list[str] = []
        self.exported: list[str] = []
        #: the resource and data source class names, which a nested block's must not take
        #: (``S3Bucket`` + ``server_side_encryption_configuration`` is a resource type too)
        self.classes = classes

    def nested_name(self, prefix: str, name: str) -> str:
        candidate = f"{prefix}{camel(name)}"
        return f"{candidate}Block" if candidate in self.classes else candidate

    def emit(self, text: str = "") -> None:
        self.lines.append(text)

    def typed_dicts(self, prefix: str, block: dict[str, Any]) -> dict[str, str]:
        """TypedDicts for the nested blocks of ``block`` (deepest first); block -> its type."""
        found: dict[str, str] = {}
        for name, spec in sorted(block.get("block_types", {}).items()):
            inner = self.nested_name(prefix, name)
            self.typed_dicts(inner, spec["block"])
            fields = self.fields(inner, spec["block"])
            self.emit(f"{inner} = TypedDict(")
            self.emit(f'    "{inner}",')
            self.emit("    {")
            for field_name, field_type in fields:
                self.emit(f'        "{field_name}": {field_type.strip(chr(34))} | None,')
            self.emit("    },")
            self.emit("    total=False,")
            self.emit(")")
            self.emit()
            self.exported.append(inner)
            found[name] = inner
        return found

    def fields(self, prefix: str, block: dict[str, Any]) -> list[tuple[str, str]]:
        out = []
        for name, spec in sorted(block.get("attributes", {}).items()):
            if settable(spec):
                out.append((name, annotation(spec["type"])))
        for name, spec in sorted(block.get("block_types", {}).items()):
            out.append((name, self.block_annotation(self.nested_name(prefix, name), spec)))
        return out

    @staticmethod
    def block_annotation(type_name: str, spec: dict[str, Any]) -> str:
        if spec.get("max_items") == 1 or spec["nesting_mode"] == "single":
            return f'"{type_name} | Sequence[{type_name}]"'
        return f'"Sequence[{type_name}]"'

    def arguments(self, cls: str, block: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
        """(python name, terraform name, annotation, required) of every settable argument."""
        out = []
        for name, spec in sorted(block.get("attributes", {}).items()):
            if settable(spec):
                out.append(
                    (py_name(name), name, annotation(spec["type"]), bool(spec.get("required")))
                )
        for name, spec in sorted(block.get("block_types", {}).items()):
            hint = self.block_annotation(self.nested_name(cls, name), spec).strip('"')
            out.append((py_name(name), name, hint, bool(spec.get("min_items"))))
        return out

    def resource(self, kind: str, block: dict[str, Any], base: str, data: bool = False) -> None:
        cls = "AwsProvider" if base == "AwsProviderBase" else class_name(kind, data)
        self.typed_dicts(cls, block)
        args = self.arguments(cls, block)
        self.emit()
        if base == "AwsProviderBase":
            self.emit(f"class {cls}({base}):")
        else:
            self.attributes(cls, kind, block)
            self.emit()
            self.emit()
            self.emit(f"class {cls}({base}, _{cls}Attributes):")
        what = "provider" if base == "AwsProviderBase" else ("data source" if data else "resource")
        self.emit(f'    """The ``{kind}`` {what} (hashicorp/aws {self.version} schema)."""')
        self.emit()
        if base != "AwsProviderBase":
            self.emit(f'    KIND = "{kind}"')
            self.emit()
        self.emit("    def __init__(")
        self.emit("        self,")
        self.emit("        scope: Construct,")
        self.emit("        id_: str,")
        self.emit("        *,")
        for name, _tf, hint, _required in args:
            self.emit(f"        {name}: {hint} | None = None,")
        if base == "AwsResource":
            self.emit("        depends_on: Sequence[Any] | None = None,")
            self.emit("        lifecycle: Any = None,")
            self.emit("        provider: TerraformProvider | None = None,")
            self.emit("        count: Any = None,")
            self.emit("        for_each: Any = None,")
        if base == "AwsProviderBase":
            self.emit("        alias: str | None = None,")
            self.emit("        version: str | None = None,")
        self.emit("        **unknown: Never,")
        self.emit("    ) -> None:")
        self.emit("        arguments: dict[str, Any] = {")
        for name, tf, _hint, _required in args:
            self.emit(f'            "{tf}": {name},')
        self.emit("            **unknown,")
        self.emit("        }")
        if base == "AwsResource":
            self.emit("        super().__init__(")
            self.emit("            scope,")
            self.emit("            id_,")
            self.emit("            arguments,")
            self.emit("            depends_on=depends_on,")
            self.emit("            lifecycle=lifecycle,")
            self.emit("            provider=provider,")
            self.emit("            count=count,")
            self.emit("            for_each=for_each,")
            self.emit("        )")
        elif base == "AwsProviderBase":
            self.emit("        super().__init__(scope, id_, arguments, alias, version)")
        else:
            self.emit("        super().__init__(scope, id_, arguments)")
        self.emit()
        self.exported.append(cls)

    def attributes(self, cls: str, kind: str, block: dict[str, Any]) -> None:
        """The references (getters) and arguments (setters) of a type, in a class of their own
        that comes after the core's class in the type's MRO (``resource_base._Member``)."""
        names = {py_name(n) for n in block.get("attributes", {})} | {
            py_name(n) for n in block.get("block_types", {})
        }
        assert names  # every type has at least its id
        self.emit(f"class _{cls}Attributes(ResourceAttributes):")
        self.emit(f'    """The attributes of ``{kind}``: references to read, arguments to set."""')
        for name, spec in sorted(block.get("attributes", {}).items()):
            prop = self.property_name(name)
            returns, expression = getter(name, spec["type"])
            self.emit()
            self.emit("    @property")
            self.emit(f"    def {prop}(self) -> {returns}:")
            self.emit(f"        return {expression}")
            if settable(spec):
                self.emit()
                self.emit(f"    @{prop}.setter")
                self.emit(
                    f"    def {prop}(self, value: {annotation(spec['type'])} | None) -> None:"
                )
                self.emit(f'        self._set("{name}", value)')
        for name, spec in sorted(block.get("block_types", {}).items()):
            prop = self.property_name(name)
            hint = self.block_annotation(self.nested_name(cls, name), spec).strip('"')
            self.emit()
            self.emit("    @property")
            self.emit(f"    def {prop}(self) -> Any:")
            self.emit(f'        return self._any_reference("{name}")')
            self.emit()
            self.emit(f"    @{prop}.setter")
            self.emit(f"    def {prop}(self, value: {hint} | None) -> None:")
            self.emit(f'        self._set("{name}", value)')

    def property_name(self, name: str) -> str:
        """``name``, or ``<name>_attribute`` where the class already has something of that
        name (the core's members, healstack's helpers, the meta-arguments)."""
        prop = py_name(name)
        return f"{prop}_attribute" if prop in self.reserved else prop


def generate(snapshot_path: Path) -> str:
    snapshot = json.loads(snapshot_path.read_text())
    types = json.loads((SCHEMA_DIR / "types.json").read_text())
    classes = {class_name(k) for k in types["resources"]}
    classes |= {class_name(k, data=True) for k in types["data_sources"]} | {"AwsProvider"}
    from healstack.providers.aws.resource_base import AwsDataSource, AwsResource

    taken = {n for n in [*dir(AwsResource), *dir(AwsDataSource)] if not n.startswith("__")}
    writer = Writer(classes, snapshot["version"], taken | set(RESERVED) | set(META_ARGUMENTS))
    emit = writer.emit
    emit('"""healstack\'s typed AWS resources (hashicorp/aws schema). GENERATED: do not edit.')
    emit("")
    emit("Generated by ``scripts/generate_resources.py`` from ``providers/aws/schema/")
    emit(f"{snapshot_path.name}`` ({snapshot['source']}). The behaviour is in")
    emit(
        "``providers/aws/resource_base.py``; regenerate after changing either snapshot or types.json."
    )
    emit('"""')
    emit()
    emit("# ruff: noqa: UP013 (functional TypedDicts: a block's fields are Terraform's names)")
    emit("from __future__ import annotations")
    emit()
    emit("from collections.abc import Mapping, Sequence")
    emit("from typing import Any, Never, TypedDict")
    emit()
    emit("from constructs import Construct")
    emit()
    emit("from healstack.cdk import TerraformProvider")
    emit("from healstack.providers.aws.resource_base import (")
    emit("    AwsDataSource,")
    emit("    AwsProviderBase,")
    emit("    AwsResource,")
    emit("    ResourceAttributes,")
    emit(")")
    emit()
    writer.resource("aws", snapshot["provider_schema"], "AwsProviderBase")
    for kind in types["data_sources"]:
        writer.resource(kind, snapshot["data_source_schemas"][kind], "AwsDataSource", data=True)
    for kind in types["resources"]:
        writer.resource(kind, snapshot["resource_schemas"][kind], "AwsResource")
    emit()
    emit("__all__ = [")
    for name in sorted(writer.exported):
        emit(f'    "{name}",')
    emit("]")
    return formatted("\n".join(writer.lines) + "\n")


def formatted(text: str) -> str:
    """The project's formatter over the generated text (so the file is as committed)."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(OUT), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 when resources.py is stale")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from healstack.providers.aws.resource_base import PINNED

    text = generate(SCHEMA_DIR / f"aws-{PINNED}.json")
    if args.check:
        if OUT.read_text() != text:
            print(f"{OUT.relative_to(REPO)} is stale: run scripts/generate_resources.py")
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(REPO)} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
