#!/usr/bin/env python3
"""Snapshots of the AWS provider's schema for exactly the types healstack emits.

    python scripts/aws_schema.py terraform [--version 5.100.0]
    python scripts/aws_schema.py jsii [--package cdktn-provider-aws==25.8.1]

``terraform`` runs ``terraform providers schema -json`` against that provider version (the
offline mirror when this machine has one, see ``healstack/terraform_cli.py``) in a scratch
folder and writes ``providers/aws/schema/aws-<version>.json``: the provider block, and the
resource and data source types ``providers/aws/schema/types.json`` lists, without
descriptions.

``jsii`` is for a provider version no terraform here can load (the offline mirror has one
version): it downloads the prebuilt cdktf/cdktn bindings of that version from PyPI (``pip
download --no-deps``), reads the jsii assembly inside the wheel and rebuilds the same blocks
from it (see ``from_assembly`` for what an assembly can and cannot tell). The snapshot's
``source`` names the package, its version, the wheel's sha256 and the assembly file. The typed
resource layer (``scripts/generate_resources.py``) is generated from the pinned version's
snapshot; the other snapshots prove the provider range (``providers/aws/schema_check.py``).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO / "providers" / "aws" / "schema"
TYPES = SCHEMA_DIR / "types.json"
PROVIDER = "registry.terraform.io/hashicorp/aws"
DROP = {"description", "description_kind", "deprecated"}


def _strip(block: dict[str, Any]) -> dict[str, Any]:
    """A schema block without prose (descriptions change with every release; types do not).
    Only the specs lose keys: an argument may itself be named ``description``."""
    out: dict[str, Any] = {}
    attributes = {
        name: {k: v for k, v in sorted(spec.items()) if k not in DROP}
        for name, spec in sorted(block.get("attributes", {}).items())
    }
    if attributes:
        out["attributes"] = attributes
    nested = {
        name: {
            **{k: v for k, v in sorted(spec.items()) if k not in DROP and k != "block"},
            "block": _strip(spec["block"]),
        }
        for name, spec in sorted(block.get("block_types", {}).items())
    }
    if nested:
        out["block_types"] = nested
    return out


def select(full: dict[str, Any], version: str, source: str) -> dict[str, Any]:
    """The snapshot document: provider, resources and data sources of ``types.json``."""
    wanted = json.loads(TYPES.read_text())
    schemas = full["provider_schemas"][PROVIDER]
    missing = [t for t in wanted["resources"] if t not in schemas["resource_schemas"]]
    missing += [t for t in wanted["data_sources"] if t not in schemas["data_source_schemas"]]
    if missing:
        raise SystemExit(f"aws {version} has no {', '.join(missing)}")
    return {
        "provider": PROVIDER,
        "version": version,
        "source": source,
        "provider_schema": _strip(schemas["provider"]["block"]),
        "resource_schemas": {
            t: _strip(schemas["resource_schemas"][t]["block"]) for t in wanted["resources"]
        },
        "data_source_schemas": {
            t: _strip(schemas["data_source_schemas"][t]["block"]) for t in wanted["data_sources"]
        },
    }


def from_terraform(version: str) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from healstack.terraform_cli import terraform_env

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "main.tf.json").write_text(
            json.dumps(
                {
                    "terraform": {
                        "required_providers": {
                            "aws": {"source": "hashicorp/aws", "version": version}
                        }
                    }
                }
            )
        )
        env = terraform_env(folder / ".cli")
        subprocess.run(
            ["terraform", "init", "-input=false", "-no-color"],
            cwd=folder,
            env=env,
            check=True,
            capture_output=True,
        )
        out = subprocess.run(
            ["terraform", "providers", "schema", "-json"],
            cwd=folder,
            env=env,
            check=True,
            capture_output=True,
        ).stdout
    source = f"terraform providers schema -json, hashicorp/aws {version}"
    return select(json.loads(out), version, source)


# -- jsii ------------------------------------------------------------------------------------
#
# A cdktf provider package (cdktf-cdktf-provider-aws, cdktn-provider-aws) is generated from
# ``terraform providers schema -json``; its jsii assembly keeps, per resource type:
#
# * a class whose doc links the registry page: ``Represents a {@link
#   https://registry.terraform.io/providers/hashicorp/aws/<version>/docs/resources/<name>
#   aws_<name>}`` (``data-sources/`` for data sources, ``docs`` alone for the provider);
# * a ``<Class>Config`` struct: one property per argument (optional or required) and per
#   nested block; each property's doc links ``...#<terraform name> <Class>#<terraform name>``,
#   so argument names are exact, and a block's doc summary is ``<name> block.``;
# * a struct per nested block (same rules, recursively); a block is a plain struct property
#   when the schema allows at most one (``max_items: 1`` or ``nesting_mode: single``), an
#   ``IResolvable | Struct[]`` otherwise;
# * getters on the class (and on each block's ``OutputReference``) for every attribute; the
#   ones not in the struct are the computed-only attributes. Getters carry no doc link: their
#   terraform name is the snake_case of the camelCase name (``snake``), a conversion the
#   tests check against every argument name of the 5.100.0 assembly.
#
# The jsii package tarball (``_jsii/*.jsii.tgz``) also holds the generated JavaScript
# (``lib/<module>/index.js``); read beside the assembly (``Generated``), it tells what the
# assembly's types do not: every getter's terraform name (``get checksumCrc32C() { return
# this.getStringAttribute('checksum_crc32c') }``: snake_case cannot tell ``crc32c`` from
# ``crc32_c``), the schema flags of each attribute (``// id - computed: true, optional: true,
# required: false``, where the generator wrote that comment), and list from set (the HCL
# synthesis says ``type: "set"``, a list class ``wrapsSet``).
#
# What neither tells (the snapshot's ``notes`` repeat it): ``single`` from a one-item list (a
# plain struct property: recorded as ``list`` with ``max_items: 1``), and a block's other item
# bounds (``min_items`` is 1 for a required block, ``max_items`` only the 1 above).

LINK = re.compile(
    r"Represents a \{@link https://registry\.terraform\.io/providers/hashicorp/aws/"
    r"(?P<version>[^/\s]+)/docs(?:/(?P<kind>resources|data-sources)/(?P<name>\w+))? \w+\}"
)
ANCHOR = re.compile(r"\{@link https://registry\.terraform\.io/\S+#(?P<name>\w+) \S+\}")
#: the provider configuration's meta-argument, not a schema argument
PROVIDER_META = frozenset({"alias"})
#: getters of generated classes that are not attributes
NOT_ATTRIBUTES = {"tfResourceType", "internalValue", "fqn"}
#: cdktf's ``Map`` classes for computed map attributes, and list-of-collection classes
MAP_CLASSES = {
    "StringMap": ["map", "string"],
    "NumberMap": ["map", "number"],
    "BooleanMap": ["map", "bool"],
    "AnyMap": ["map", "dynamic"],
    "StringMapList": ["list", ["map", "string"]],
    "NumberMapList": ["list", ["map", "number"]],
    "BooleanMapList": ["list", ["map", "bool"]],
    "AnyMapList": ["list", ["map", "dynamic"]],
    "StringListList": ["list", ["list", "string"]],
    "NumberListList": ["list", ["list", "number"]],
    "BooleanList": ["list", "bool"],
}


def snake(name: str) -> str:
    """The terraform name of a cdktf (camelCase) name: ``kmsKeyId`` -> ``kms_key_id``,
    ``s3UsePathStyle`` -> ``s3_use_path_style`` (cdktf upper-cases the letter after each
    underscore of a lower-case terraform name, and keeps digits where they were)."""
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), name)


def terraform_name(prop: dict[str, Any]) -> str:
    """The terraform name of a struct property: its doc link's anchor, else ``snake``."""
    docs = prop.get("docs", {})
    for text in (docs.get("remarks", ""), docs.get("summary", "")):
        found = ANCHOR.search(text)
        if found:
            return found.group("name")
    return snake(prop["name"])


def is_block(prop: dict[str, Any]) -> bool:
    return bool(re.fullmatch(r"\w+ block\.", prop.get("docs", {}).get("summary", "")))


SEGMENT = re.compile(r"^(?:class|function) (\w+)", re.M)
FLAGS = re.compile(
    r"^    // (\w+) - computed: (true|false), optional: (true|false), required: (true|false)$",
    re.M,
)
GETTER = re.compile(r"^    get (\w+)\(\) \{\n\s*return (.*)$", re.M)
QUOTED = re.compile(r"\('(\w+)'\)")
FIELD = re.compile(r"^    _(\w+) = new (\w+)\(this, \"(\w+)\"(, true)?", re.M)
HCL = re.compile(
    r"^\s+(\w+): \{\n\s+value: .*\n\s+isBlock: (?:true|false),\n\s+type: \"(\w+)\"", re.M
)


class Generated:
    """What the generated JavaScript of some modules says about their classes and structs,
    by the class's (or struct's) jsii name."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.names: dict[str, str] = {}  # getter (camelCase) -> terraform name
        self.flags: dict[tuple[str, str], dict[str, bool]] = {}  # (class, name) -> flags
        self.sets: set[tuple[str, str]] = set()  # (class or struct, name) holding a set
        for text in sources.values():
            marks = list(SEGMENT.finditer(text))
            for mark, after in zip(marks, [*marks[1:], None], strict=True):
                self.read(mark.group(1), text[mark.start() : after.start() if after else None])

    def read(self, name: str, text: str) -> None:
        if name.endswith("ToHclTerraform"):  # a struct's HCL synthesis
            struct = name[0].upper() + name[1 : -len("ToHclTerraform")]
            self.sets |= {(struct, m.group(1)) for m in HCL.finditer(text) if m.group(2) == "set"}
            return
        if name[0].islower():
            return
        for found in FLAGS.finditer(text):
            computed, optional, required = (found.group(i) == "true" for i in (2, 3, 4))
            self.flags[(name, found.group(1))] = {
                k: True
                for k, v in (("computed", computed), ("optional", optional), ("required", required))
                if v
            }
        for found in GETTER.finditer(text):
            quoted = QUOTED.search(found.group(2))
            if quoted:
                self.names[found.group(1)] = quoted.group(1)
                if "Fn.tolist(" in found.group(2):
                    self.sets.add((name, quoted.group(1)))
        for found in FIELD.finditer(text):
            self.names[found.group(1)] = found.group(3)
            if found.group(4):
                self.sets.add((name, found.group(3)))
        for found in HCL.finditer(text):  # the class's own synthesis: its Config struct's
            if found.group(2) == "set":
                self.sets.add((name + "Config", found.group(1)))


class Assembly:
    """The types of one jsii assembly, and the schema blocks they describe."""

    def __init__(self, assembly: dict[str, Any], sources: dict[str, str] | None = None) -> None:
        self.generated = Generated(sources or {})
        self.name: str = assembly["name"]
        self.version: str = assembly["version"]
        self.types: dict[str, dict[str, Any]] = assembly["types"]
        self.classes: dict[tuple[str, str], str] = {}  # (kind, type) -> class fqn
        self.provider_version = ""
        for fqn, spec in self.types.items():
            if spec["kind"] != "class":
                continue
            found = LINK.match(spec.get("docs", {}).get("summary", ""))
            if found is None:
                continue
            if found.group("kind") is None:
                self.classes[("provider", "aws")] = fqn
                self.provider_version = found.group("version")
            else:
                self.classes[(found.group("kind"), f"aws_{found.group('name')}")] = fqn
        self.notes: set[str] = set()

    def struct_of(self, ref: dict[str, Any]) -> tuple[str | None, bool]:
        """(the struct a property type names, whether as a list) or (None, False)."""
        if "union" in ref:
            for option in ref["union"]["types"]:
                struct, many = self.struct_of(option)
                if struct is not None:
                    return struct, many
            return None, False
        if "collection" in ref and ref["collection"]["kind"] == "array":
            struct, _ = self.struct_of(ref["collection"]["elementtype"])
            return struct, struct is not None
        fqn = ref.get("fqn")
        if fqn and self.types.get(fqn, {}).get("datatype"):
            return fqn, False
        return None, False

    def value_type(self, ref: dict[str, Any], where: str) -> Any:
        """The terraform type of a jsii type reference (arguments and getters)."""
        if "primitive" in ref:
            primitive = ref["primitive"]
            return {"string": "string", "number": "number", "boolean": "bool"}.get(
                primitive, "dynamic"
            )
        if "union" in ref:
            options = [o for o in ref["union"]["types"] if o.get("fqn") != _resolvable(self)]
            if len(options) == 1:
                return self.value_type(options[0], where)
            if not options:  # a getter's IResolvable: cdktf's boolean attribute
                return "bool"
            self.notes.add(f"{where}: a union of {len(options)} types, recorded as dynamic")
            return "dynamic"
        if "collection" in ref:
            kind = {"array": "list", "map": "map"}[ref["collection"]["kind"]]
            return [kind, self.value_type(ref["collection"]["elementtype"], where)]
        fqn = ref["fqn"]
        if fqn == _resolvable(self):
            return "bool"  # getBooleanAttribute's return type
        short = fqn.rsplit(".", 1)[-1]
        if fqn.split(".", 1)[0] in ("cdktf", "cdktn") and short in MAP_CLASSES:
            return MAP_CLASSES[short]
        spec = self.types[fqn]
        if spec.get("datatype"):
            return ["object", self.object_fields(fqn, where)]
        if short.endswith("List") and fqn[: -len("List")] + "OutputReference" in self.types:
            reference = fqn[: -len("List")] + "OutputReference"
            return ["list", ["object", self.getter_fields(reference, where)]]
        if short.endswith("OutputReference"):
            return ["object", self.getter_fields(fqn, where)]
        self.notes.add(f"{where}: {fqn} recorded as dynamic")
        return "dynamic"

    def short(self, fqn: str) -> str:
        return fqn.rsplit(".", 1)[-1]

    def getter_name(self, prop: dict[str, Any]) -> str:
        """A getter's terraform name: the generated code's, else ``snake``."""
        return self.generated.names.get(prop["name"]) or snake(prop["name"])

    def object_fields(self, struct: str, where: str) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for prop in self.types[struct].get("properties", []):
            name = terraform_name(prop)
            fields[name] = self.set_or_list(
                self.short(struct), name, self.value_type(prop["type"], f"{where}.{name}")
            )
        reference = struct + "OutputReference"
        if reference in self.types:
            for name, kind in self.getter_fields(reference, where).items():
                fields.setdefault(name, kind)
        return dict(sorted(fields.items()))

    def getter_fields(self, fqn: str, where: str) -> dict[str, Any]:
        fields = {}
        for prop in self.getters(fqn):
            name = self.getter_name(prop)
            kind = self.value_type(prop["type"], f"{where}.{name}")
            fields[name] = self.set_or_list(self.short(fqn), name, kind)
        return fields

    def set_or_list(self, owner: str, name: str, kind: Any) -> Any:
        """``kind`` as a set when the generated code says ``owner``'s ``name`` holds one."""
        if isinstance(kind, list) and kind[0] == "list" and (owner, name) in self.generated.sets:
            return ["set", kind[1]]
        return kind

    def getters(self, fqn: str) -> list[dict[str, Any]]:
        return [
            prop
            for prop in self.types[fqn].get("properties", [])
            if not prop.get("static")
            and not prop["name"].endswith("Input")
            and prop["name"] not in NOT_ATTRIBUTES
        ]

    def block(
        self,
        struct: str | None,
        getters_of: str | None,
        where: str,
        skip: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """The schema block of a config struct and the class (or ``OutputReference``) whose
        getters add the computed attributes."""
        attributes: dict[str, dict[str, Any]] = {}
        blocks: dict[str, dict[str, Any]] = {}
        names: set[str] = set()
        owner = self.short(getters_of) if getters_of else ""
        struct_name = self.short(struct) if struct else ""
        for prop in self.types[struct].get("properties", []) if struct else []:
            name = terraform_name(prop)
            names.add(prop["name"])
            if name in skip:
                continue
            nested, many = self.struct_of(prop["type"])
            if nested is not None and is_block(prop):
                reference = nested + "OutputReference"
                wraps_set = (owner, name) in self.generated.sets or (
                    struct_name,
                    name,
                ) in self.generated.sets
                spec: dict[str, Any] = {
                    "block": self.block(
                        nested, reference if reference in self.types else None, f"{where}.{name}"
                    ),
                    "nesting_mode": "set" if wraps_set else "list",
                }
                if not prop.get("optional"):
                    spec["min_items"] = 1
                if not many:
                    spec["max_items"] = 1
                blocks[name] = spec
                continue
            kind = self.value_type(prop["type"], f"{where}.{name}")
            kind = self.set_or_list(struct_name, name, self.set_or_list(owner, name, kind))
            attribute: dict[str, Any] = {"type": kind}
            flags = self.generated.flags.get((owner, name))
            attribute.update(flags or {"optional" if prop.get("optional") else "required": True})
            attributes[name] = attribute
        for prop in self.getters(getters_of) if getters_of else []:
            name = self.getter_name(prop)
            if prop["name"] in names or name in attributes or name in blocks:
                continue
            kind = self.set_or_list(owner, name, self.value_type(prop["type"], f"{where}.{name}"))
            attributes[name] = {"computed": True, "type": kind}
        out: dict[str, Any] = {}
        if attributes:
            out["attributes"] = {k: dict(sorted(v.items())) for k, v in sorted(attributes.items())}
        if blocks:
            out["block_types"] = dict(sorted(blocks.items()))
        return out

    def schema(self, kind: str, name: str) -> dict[str, Any]:
        """The block of ``("resources" | "data-sources", aws_x)`` or ``("provider", "aws")``."""
        fqn = self.classes.get((kind, name))
        if fqn is None:
            raise KeyError(f"{self.name} {self.version} has no {kind} {name}")
        if kind == "provider":  # every provider argument is in the config; no computed ones
            return self.block(fqn + "Config", None, name, skip=PROVIDER_META)
        return self.block(fqn + "Config", fqn, name)

    def module_of(self, kind: str, name: str) -> str:
        """The generated JavaScript file of a type's class (``lib/<module>/index.js``)."""
        location = str(self.types[self.classes[(kind, name)]]["locationInModule"]["filename"])
        return "lib/" + location.removeprefix("src/").removesuffix(".ts") + ".js"


def _resolvable(assembly: Assembly) -> str:
    """``cdktf.IResolvable`` or ``cdktn.IResolvable``: the core the assembly depends on."""
    return "cdktn.IResolvable" if assembly.name.startswith("@cdktn/") else "cdktf.IResolvable"


NOTES = [
    "rebuilt by scripts/aws_schema.py jsii from the jsii assembly of prebuilt provider "
    "bindings (names, arguments and blocks, types) and the generated JavaScript beside it "
    "(getter names, optional/computed flags where the generator wrote them, list or set)",
    "not told by either: nesting_mode single is recorded as list with max_items 1; item "
    "bounds other than a required block's min_items 1 and a single block's max_items 1",
]


def wanted_types() -> list[tuple[str, str]]:
    wanted = json.loads(TYPES.read_text())
    return [
        ("provider", "aws"),
        *(("resources", t) for t in wanted["resources"]),
        *(("data-sources", t) for t in wanted["data_sources"]),
    ]


def from_assembly(
    assembly: dict[str, Any], source: str, sources: dict[str, str] | None = None
) -> dict[str, Any]:
    """The snapshot document of ``types.json``'s types, rebuilt from a jsii assembly (and the
    generated JavaScript of their modules, by ``Assembly.module_of`` path, when given)."""
    parsed = Assembly(assembly, sources)
    wanted = json.loads(TYPES.read_text())
    snapshot = {
        "provider": PROVIDER,
        "version": parsed.provider_version,
        "source": source,
        "provider_schema": parsed.schema("provider", "aws"),
        "resource_schemas": {t: parsed.schema("resources", t) for t in wanted["resources"]},
        "data_source_schemas": {
            t: parsed.schema("data-sources", t) for t in wanted["data_sources"]
        },
    }
    snapshot["notes"] = NOTES + sorted(parsed.notes)
    return snapshot


def _tgz(archive: Path) -> tuple[bytes, str]:
    """The jsii package tarball of a wheel or an installed package folder, and its name."""
    if archive.is_dir():
        for tgz in sorted(archive.glob("_jsii/*.jsii.tgz")):
            return tgz.read_bytes(), f"_jsii/{tgz.name}"
        raise SystemExit(f"no _jsii/*.jsii.tgz in {archive}")
    with zipfile.ZipFile(archive) as wheel:
        for name in sorted(wheel.namelist()):
            if name.endswith(".jsii.tgz"):
                return wheel.read(name), name
    raise SystemExit(f"no _jsii/*.jsii.tgz in {archive}")


def read_package(archive: Path) -> tuple[dict[str, Any], str, dict[str, str]]:
    """From a wheel (or an installed package folder) of provider bindings: the jsii assembly
    (``package/.jsii`` in the ``_jsii/*.jsii.tgz``, or the gzip file a ``jsii/file-redirect``
    there names), which file it is, and the generated JavaScript of ``types.json``'s modules."""
    data, label = _tgz(archive)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        files: dict[str, bytes] = {}
        for member in tar:  # one pass: the assembly comes first in a jsii tarball
            if member.name.startswith("package/.jsii") or (
                member.name.startswith("package/lib/") and member.name.endswith("/index.js")
            ):
                raw = tar.extractfile(member)
                assert raw is not None
                files[member.name] = raw.read()
    name = "package/.jsii"
    assembly = json.loads(files[name])
    if assembly.get("schema") == "jsii/file-redirect":  # a compressed assembly
        name = f"package/{assembly['filename']}"
        assembly = json.loads(gzip.decompress(files[name]))
    parsed = Assembly(assembly)
    modules = {parsed.module_of(kind, t) for kind, t in wanted_types()}
    sources = {m: files[f"package/{m}"].decode() for m in sorted(modules)}
    return assembly, f"{label}:{name}", sources


def from_jsii(requirement: str) -> dict[str, Any]:
    """Download ``requirement`` (``package==version``) from PyPI and rebuild the snapshot."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *(requirement, "-d", tmp, "--disable-pip-version-check"),
            ],
            check=True,
        )
        (wheel,) = Path(tmp).glob("*.whl")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        assembly, where, sources = read_package(wheel)
    package, _, version = requirement.partition("==")
    source = (
        f"PyPI {package} {version}, wheel {wheel.name} (sha256 {digest}): jsii assembly "
        f"{where} ({assembly['name']} {assembly['version']}) and the generated JavaScript "
        f"beside it"
    )
    snapshot = from_assembly(assembly, source, sources)
    snapshot["source"] += f"; binds hashicorp/aws {snapshot['version']}"
    return snapshot


def write(snapshot: dict[str, Any]) -> Path:
    path = SCHEMA_DIR / f"aws-{snapshot['version']}.json"
    path.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    tf = sub.add_parser("terraform", help="from terraform providers schema -json")
    tf.add_argument("--version", default="5.100.0")
    js = sub.add_parser("jsii", help="from the jsii assembly of prebuilt bindings on PyPI")
    js.add_argument("--package", default="cdktn-provider-aws==25.8.1")
    args = parser.parse_args(argv)
    if args.command == "terraform":
        print(write(from_terraform(args.version)))
    elif args.command == "jsii":
        print(write(from_jsii(args.package)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
