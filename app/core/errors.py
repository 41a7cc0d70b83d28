"""Errors a user can cause, each naming where it happened (file, line, field)."""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field


@dataclass
class Problem:
    """One thing wrong with user input, and where it is."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "")
        elif self.line:
            where = f"line {self.line}"
        parts = [p for p in (where, self.field) if p]
        return (": ".join(parts) + ": " if parts else "") + self.message

    def as_dict(self) -> dict:
        """Return the problem as a JSON-ready dict for API responses."""
        return {k: v for k, v in {"message": self.message, "file": self.file, "line": self.line,
                                  "field": self.field}.items() if v is not None}


class InputError(Exception):
    """User input was rejected; nothing was changed. Carries one or more problems."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class NotFound(Exception):
    """A named object (by key or reference) does not exist."""


class Conflict(Exception):
    """The request conflicts with the current state (stale version, duplicate, wrong status)."""


class Forbidden(Exception):
    """The actor may not do this."""


@dataclass
class ProblemCollector:
    """Collects problems while validating so that all of them are reported at once."""

    problems: list[Problem] = dc_field(default_factory=list)

    def add(self, message: str, *, file: str | None = None, line: int | None = None,
            field: str | None = None) -> None:
        """Record one problem."""
        self.problems.append(Problem(message, file=file, line=line, field=field))

    def raise_if_any(self) -> None:
        """Raise InputError if any problem was recorded."""
        if self.problems:
            raise InputError(self.problems)


def messages_of(exc: Exception) -> list[str]:
    """Human-readable lines for an input error, a pydantic validation error or anything else."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return [f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors()]
    if isinstance(exc, InputError):
        return [str(p) for p in exc.problems]
    return [str(exc)]
