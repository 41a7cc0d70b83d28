"""Fides system manifests (system: [...] with privacy_declarations) plus a CSV assigning customers to systems."""

from __future__ import annotations

import csv
import io

from pydantic import BaseModel, ConfigDict, ValidationError

from app.core.errors import InputError, Problem
from app.core.yamlfile import parse_yaml, validate_model
from app.datamap.formats.canonical import ParsedMap
from app.datamap.formats.csvmap import split_list
from app.datamap.formats.schema import DataMapIn
from app.datamap.taxonomy import taxonomy

ASSIGNMENT_COLUMNS = ["controller", "controller_name", "country", "jurisdictions", "sector", "locale", "timezone",
                      "system", "role", "est_subjects", "est_records", "region"]


class PrivacyDeclaration(BaseModel):
    """The part of a Fides privacy declaration Breachline reads."""

    model_config = ConfigDict(extra="ignore")
    name: str = ""
    data_categories: list[str]
    data_subjects: list[str]
    data_use: str = ""


class FidesSystem(BaseModel):
    """The part of a Fides system Breachline reads."""

    model_config = ConfigDict(extra="ignore")
    fides_key: str
    name: str
    description: str = ""
    privacy_declarations: list[PrivacyDeclaration]


class FidesManifest(BaseModel):
    """A Fides manifest file."""

    model_config = ConfigDict(extra="ignore")
    system: list[FidesSystem]


def is_fides_manifest(text: str) -> bool:
    """True when YAML text looks like a Fides manifest (top-level `system:`)."""
    return any(line.startswith("system:") for line in text.splitlines())


def _unknown_categories(manifest: FidesManifest, doc) -> list[Problem]:
    """Problems for taxonomy keys in the manifest that Breachline does not know, located in the manifest."""
    tax = taxonomy()
    problems = []
    for i, system in enumerate(manifest.system):
        for j, decl in enumerate(system.privacy_declarations):
            for field, known, values in (("data_categories", tax.data_categories, decl.data_categories),
                                         ("data_subjects", tax.subject_categories, decl.data_subjects)):
                for k, key in enumerate(values):
                    if key not in known:
                        problems.append(doc.problem(f"unknown taxonomy key {key!r}",
                                                    ("system", i, "privacy_declarations", j, field, k)))
    return problems


def parse_fides(manifest_text: str, manifest_file: str, assignments_text: str, assignments_file: str) -> ParsedMap:
    """Combine a Fides manifest (systems and categories) with an assignments CSV (customers and counts)."""
    doc = parse_yaml(manifest_text, manifest_file)
    manifest = validate_model(FidesManifest, doc.data, doc)
    declared = {}
    problems = _unknown_categories(manifest, doc)
    for system in manifest.system:
        cats = sorted({c for d in system.privacy_declarations for c in d.data_categories})
        subs = sorted({s for d in system.privacy_declarations for s in d.data_subjects})
        declared[system.fides_key] = (cats, subs)
    reader = csv.DictReader(io.StringIO(assignments_text))
    missing = sorted({"controller", "system", "role", "est_subjects", "est_records"} - set(reader.fieldnames or []))
    if missing:
        raise InputError(Problem(f"missing column(s): {', '.join(missing)}", file=assignments_file, line=1))
    controllers: dict[str, dict] = {}
    processing: list[dict] = []
    lines: dict[tuple, int] = {}
    for row in reader:
        line = reader.line_num
        row = {k: (v or "").strip() for k, v in row.items() if k}
        if row["system"] not in declared:
            problems.append(Problem(f"system {row['system']!r} is not in {manifest_file}", file=assignments_file,
                                    line=line, field="system"))
            continue
        if row["controller"] not in controllers and row.get("controller_name"):
            lines[("controllers", len(controllers))] = line
            controllers[row["controller"]] = {
                "key": row["controller"], "name": row["controller_name"], "country": row.get("country", ""),
                "jurisdictions": split_list(row.get("jurisdictions", "")), "sector": row.get("sector", ""),
                "locale": row.get("locale") or "en", "timezone": row.get("timezone") or "UTC"}
        cats, subs = declared[row["system"]]
        lines[("processing", len(processing))] = line
        processing.append({"controller": row["controller"], "system": row["system"], "role": row["role"],
                           "data_categories": cats, "subject_categories": subs,
                           "est_subjects": row["est_subjects"], "est_records": row["est_records"],
                           "region": row.get("region", "")})
    if problems:
        raise InputError(problems)
    systems = [{"key": s.fides_key, "name": s.name, "description": s.description} for s in manifest.system]
    raw = {"controllers": list(controllers.values()), "systems": systems, "processing": processing}

    def locate(path: tuple) -> int | None:
        if path and path[0] == "systems":
            return doc.line_of(("system", *path[1:]))
        return lines.get(tuple(path[:2]))

    try:
        data = DataMapIn.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            file = manifest_file if loc[0] == "systems" else assignments_file
            problems.append(Problem(err["msg"], file=file, line=locate(loc), field=".".join(map(str, loc[2:])) or None))
        raise InputError(problems) from None
    # Category errors for systems point into the manifest, so give the manifest's name to those.
    return ParsedMap(data=data, file=assignments_file, locate=locate)
