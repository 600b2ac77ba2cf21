"""Load playbooks from YAML/JSON files or dicts, turning every failure into one PlaybookError."""

from __future__ import annotations

import ast
import difflib
import json
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from healstack.errors import PlaybookError
from healstack.playbook import Playbook, _FieldError

DEFAULT_PLAYBOOK = "ec2-status-check-recovery.yaml"


def shipped_playbooks() -> list[str]:
    """File names of the playbooks that ship with healstack."""
    folder = resources.files("healstack") / "playbooks"
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".yaml", ".yml", ".json")))


def shipped_playbook_path(name: str = DEFAULT_PLAYBOOK) -> Path:
    return Path(str(resources.files("healstack") / "playbooks" / name))


def load_playbook(path: str | Path) -> Playbook:
    """Read and validate one playbook file; errors name the file and the field."""
    source = str(path)
    file = Path(path)
    if not file.is_file():
        raise PlaybookError("", "no such file (check the path)", source=source)
    size = file.stat().st_size
    if size > MAX_FILE_BYTES:
        raise PlaybookError(
            "",
            f"is {size:,} bytes; a playbook is at most {MAX_FILE_BYTES:,} (is it the right file?)",
            source=source,
        )
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlaybookError(
            "", f"is not UTF-8 text (byte {exc.start}; save it as UTF-8)", source=source
        ) from None
    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else _safe_yaml(text, source)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        line = _error_line(exc)
        raise PlaybookError(
            "",
            f"is not valid {'JSON' if file.suffix == '.json' else 'YAML'}{line} (fix the syntax)",
            source=source,
        ) from None
    try:
        playbook = playbook_from_dict(data)
    except PlaybookError as exc:
        raise exc.with_source(source) from None
    attach_platform_code(playbook, file.parent, source)
    return playbook


#: a platform step is one small file (it may import boto3 and the standard library)
MAX_PLATFORM_FILE_BYTES = 256 * 1024


def attach_platform_code(playbook: Playbook, folder: Path, source: str = "") -> None:
    """Tie the playbook's platform steps to their files (relative to ``folder``): each must be
    a UTF-8 Python file below ``folder`` that defines its handler function at top level."""
    root = folder.resolve()
    for name, step in playbook.platform_steps.items():
        field = f"platform_steps.{name}.handler"
        path = (root / step.file).resolve()
        if not path.is_relative_to(root):
            raise PlaybookError(
                field,
                f"{step.file} leaves the playbook's folder (keep the code below it)",
                source=source,
            )
        if not path.is_file():
            raise PlaybookError(
                field,
                f"{step.file} does not exist (the path is relative to the playbook's folder)",
                source=source,
            )
        if path.stat().st_size > MAX_PLATFORM_FILE_BYTES:
            raise PlaybookError(
                field,
                f"{step.file} is larger than {MAX_PLATFORM_FILE_BYTES:,} bytes",
                source=source,
            )
        try:
            tree = ast.parse(path.read_bytes().decode("utf-8"), filename=step.file)
        except (UnicodeDecodeError, SyntaxError) as exc:
            line = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) else ""
            raise PlaybookError(
                field, f"{step.file} is not UTF-8 Python{line} (fix the file)", source=source
            ) from None
        functions = {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        if step.function not in functions:
            raise PlaybookError(
                field,
                f"{step.file} defines no top-level function {step.function!r} "
                f"(found: {', '.join(sorted(functions)) or 'none'})",
                source=source,
            )
    playbook._source_dir = root


#: a playbook is a page of YAML; anything far larger is a wrong file (or an attack on the parser)
MAX_FILE_BYTES = 256 * 1024
#: the most values a playbook may hold once YAML aliases are expanded (``&a``/``*a`` can make a
#: small file expand exponentially: the "billion laughs")
MAX_EXPANDED_NODES = 20_000


def _safe_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load``, parsed once: the node graph is composed, its size with every alias
    expanded is counted (an aliased node is shared, so counting builds nothing), and only then
    are the values constructed."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _check_expansion(root, source)
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node, source: str) -> None:
    """Refuse YAML whose aliases expand beyond ``MAX_EXPANDED_NODES`` values."""
    seen: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in seen:
            return seen[key]
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        seen[key] = total
        if total > MAX_EXPANDED_NODES:
            raise PlaybookError(
                "",
                f"expands to more than {MAX_EXPANDED_NODES:,} values through YAML aliases "
                "(write the values out, or use fewer aliases)",
                source=source,
            )
        return total

    size(root)


def load_playbooks(paths: Iterable[str | Path]) -> list[Playbook]:
    playbooks = [load_playbook(p) for p in paths]
    seen: dict[str, int] = {}
    for index, playbook in enumerate(playbooks):
        if playbook.name in seen:
            raise PlaybookError(
                "name",
                f'"{playbook.name}" is also the name of playbook #{seen[playbook.name] + 1} '
                "(give each playbook its own name)",
                source=str(list(paths)[index]) if isinstance(paths, Sequence) else None,
            )
        seen[playbook.name] = index
    return playbooks


def playbook_from_dict(data: object) -> Playbook:
    if not isinstance(data, dict):
        raise PlaybookError("", "a playbook is a mapping of fields (start with `name:`)")
    try:
        return Playbook.model_validate(data)
    except ValidationError as exc:
        raise _to_playbook_error(exc, data) from None


def _error_line(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f" at line {mark.line + 1}"
    lineno = getattr(exc, "lineno", None)
    return f" at line {lineno}" if lineno else ""


def format_path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _to_playbook_error(exc: ValidationError, data: dict[str, Any]) -> PlaybookError:
    errors = exc.errors()
    first = errors[0]
    loc: tuple[str | int, ...] = tuple(first["loc"])
    message = _message(first, loc)
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, _FieldError):
        loc = loc + cause.loc
        message = str(cause)
    more = len(errors) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return PlaybookError(format_path(loc), message)


def _message(error: Any, loc: tuple[str | int, ...]) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return "is required (add it)"
    if kind == "extra_forbidden":
        allowed = _allowed_fields(loc[:-1])
        guess = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {guess[0]}?" if guess else f"allowed: {', '.join(allowed)}"
        return f"is not a known field ({hint})"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{_show(value)} is not a whole number (use e.g. 3)"
    if kind in ("bool_parsing", "bool_type"):
        return f"{_show(value)} is not true or false (use true or false)"
    if kind in ("string_type",):
        return f"{_show(value)} is not text (quote it)"
    if kind in ("list_type",):
        return f"{_show(value)} is not a list (use a YAML list: - item)"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{_show(value)} is not a mapping (use key: value lines)"
    if kind in _BOUNDS:
        ctx = error.get("ctx") or {}
        bound = " and ".join(f"{_BOUNDS[kind]} {v}" for v in ctx.values())
        return f"{_show(value)} is out of range (use {bound})"
    if kind == "too_short":
        return "is empty (give at least one)"
    if kind == "too_long":
        ctx = error.get("ctx") or {}
        return f"has too many entries (at most {ctx.get('max_length')})"
    return str(error["msg"])


_BOUNDS = {
    "greater_than_equal": "at least",
    "less_than_equal": "at most",
    "greater_than": "more than",
    "less_than": "less than",
}


def _show(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 40 else text[:37] + "..."


def _allowed_fields(loc: tuple[str | int, ...]) -> list[str]:
    model: type[BaseModel] = Playbook
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        nested = _model_in(annotation)
        if nested is None:
            return []
        model = nested
    return sorted(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None
