"""The vendored fideslang taxonomy with Breachline's Art. 9/10 and ENISA annotations."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

import yaml

TAXONOMY_FILE = Path(__file__).with_name("taxonomy.yaml")


class EnisaType(StrEnum):
    """ENISA data processing context base types, in rising order of severity."""

    simple = "simple"  # base DPC 1
    behavioural = "behavioural"  # base DPC 2
    financial = "financial"  # base DPC 3
    sensitive = "sensitive"  # base DPC 4

    @property
    def base_score(self) -> int:
        """The ENISA base DPC score of this type."""
        return list(EnisaType).index(self) + 1


class DataCategoryInfo(BaseModel):
    """One fideslang data category with its annotations."""

    key: str
    name: str
    parent: str | None = None
    description: str = ""
    enisa_type: EnisaType = EnisaType.simple
    art9: bool = False
    art10: bool = False
    credentials: bool = False
    government_id: bool = False
    vulnerable: bool = False


class SubjectCategoryInfo(BaseModel):
    """One fideslang data subject category."""

    key: str
    name: str
    description: str = ""
    vulnerable: bool = False
    extension: bool = False


class Taxonomy(BaseModel):
    """All data and subject categories, by key."""

    data_categories: dict[str, DataCategoryInfo]
    subject_categories: dict[str, SubjectCategoryInfo]


@lru_cache(maxsize=1)
def taxonomy() -> Taxonomy:
    """Load the vendored taxonomy once."""
    raw = yaml.safe_load(TAXONOMY_FILE.read_text(encoding="utf-8"))
    return Taxonomy(
        data_categories={c["key"]: DataCategoryInfo(**c) for c in raw["data_categories"]},
        subject_categories={s["key"]: SubjectCategoryInfo(**s) for s in raw["subject_categories"]},
    )
