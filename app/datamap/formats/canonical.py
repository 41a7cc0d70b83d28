"""Reading the canonical YAML/JSON data-map format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from app.core.errors import InputError, Problem
from app.core.yamlfile import dotted, parse_yaml, validate_model
from app.datamap.formats.schema import DataMapIn

Locator = Callable[[tuple], "int | None"]


@dataclass
class ParsedMap:
    """A validated data-map document and how to find the line of any of its fields."""

    data: DataMapIn
    file: str
    locate: Locator

    def problem(self, message: str, path: tuple) -> Problem:
        """A problem located at path (e.g. ("processing", 3, "system"))."""
        return Problem(message, file=self.file, line=self.locate(path), field=dotted(path))


def parse_canonical(text: str, file: str) -> ParsedMap:
    """Parse and validate a canonical YAML or JSON data map."""
    doc = parse_yaml(text, file)
    if not isinstance(doc.data, dict):
        raise InputError(Problem("expected a mapping with controllers, systems and processing", file=file, line=1))
    data = validate_model(DataMapIn, doc.data, doc)
    return ParsedMap(data=data, file=file, locate=doc.line_of)
