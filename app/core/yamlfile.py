"""YAML loading that remembers the line of every value, so errors can name file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from app.core.errors import InputError, Problem

Path_ = tuple  # a location inside the document: ("controllers", 3, "country")


class LocatedDocument:
    """Parsed YAML data plus the 1-based line of each path inside it."""

    def __init__(self, data: Any, lines: dict[Path_, int], file: str):
        self.data = data
        self.lines = lines
        self.file = file

    def line_of(self, path: Path_) -> int | None:
        """Return the line of path, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def problem(self, message: str, path: Path_) -> Problem:
        """Build a Problem located at path."""
        return Problem(message, file=self.file, line=self.line_of(path), field=dotted(path))


def dotted(path: Path_) -> str | None:
    """Render a path as controllers[3].country."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def _construct(node: yaml.Node, path: Path_, lines: dict[Path_, int], file: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict = {}
        for key_node, value_node in node.value:
            key = _SAFE.construct_object(key_node, deep=True)
            if key in result:
                raise InputError(Problem(f"duplicate key {key!r}", file=file,
                                         line=key_node.start_mark.line + 1, field=dotted(path + (key,))))
            lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = _construct(value_node, path + (key,), lines, file)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(child, path + (i,), lines, file) for i, child in enumerate(node.value)]
    return _SAFE.construct_object(node, deep=True)


# A SafeLoader used only to construct scalars from nodes (resolves int, bool, timestamp, ...).
_SAFE = yaml.SafeLoader("")


def parse_yaml(text: str, file: str) -> LocatedDocument:
    """Parse YAML (or JSON) text; malformed input raises InputError with file and line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        raise InputError(Problem(f"malformed YAML: {reason}", file=file,
                                 line=mark.line + 1 if mark else None)) from None
    lines: dict[Path_, int] = {}
    data = None if node is None else _construct(node, (), lines, file)
    return LocatedDocument(data, lines, file)


def load_yaml(path: Path | str) -> LocatedDocument:
    """Read and parse a YAML file from disk."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(f"cannot read file: {exc}", file=str(path))) from None
    return parse_yaml(text, str(path))


def validation_problems(exc: ValidationError, doc: LocatedDocument, prefix: Path_ = ()) -> list[Problem]:
    """Translate a pydantic ValidationError into located problems."""
    problems = []
    for err in exc.errors():
        loc = prefix + tuple(err["loc"])
        problems.append(doc.problem(err["msg"], loc))
    return problems


def validate_model(model: type[BaseModel], data: Any, doc: LocatedDocument, prefix: Path_ = ()) -> BaseModel:
    """Validate data (found at prefix inside doc) into model, raising located InputError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(validation_problems(exc, doc, prefix)) from None
