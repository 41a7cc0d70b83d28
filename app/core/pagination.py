"""Page numbers and sizes for lists, the same for web pages and the API."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Generic, TypeVar

from app.core.errors import InputError, Problem

T = TypeVar("T")


@dataclass
class PageRequest:
    """Which page of a list to show."""

    page: int = 1
    per_page: int = 50

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return (self.page - 1) * self.per_page

    @classmethod
    def parse(cls, args, *, default_size: int = 50, max_size: int = 500) -> "PageRequest":
        """Read page and per_page from query arguments, rejecting bad values with the field name."""
        values = {}
        for name, default, upper in (("page", 1, None), ("per_page", default_size, max_size)):
            raw = args.get(name)
            try:
                value = default if raw in (None, "") else int(raw)
            except ValueError:
                raise InputError(Problem(f"must be a whole number, got {raw!r}", field=name)) from None
            if value < 1 or (upper and value > upper):
                raise InputError(Problem(f"must be between 1 and {upper or 'any'}", field=name))
            values[name] = value
        return cls(**values)


@dataclass
class Page(Generic[T]):
    """One page of results and the total count."""

    items: list[T]
    total: int
    request: PageRequest

    @property
    def pages(self) -> int:
        """Number of pages."""
        return max(1, ceil(self.total / self.request.per_page))

    def meta(self) -> dict:
        """Pagination metadata for API responses."""
        return {"page": self.request.page, "per_page": self.request.per_page, "total": self.total,
                "pages": self.pages}

