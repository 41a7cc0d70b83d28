"""The CSV data-map format: one row per processing record, list fields separated by ';'."""

from __future__ import annotations

import csv
import io

from pydantic import ValidationError

from app.core.errors import InputError, Problem
from app.datamap.formats.canonical import ParsedMap
from app.datamap.formats.schema import DataMapIn

COLUMNS = [
    "controller", "controller_name", "country", "jurisdictions", "sector", "locale", "timezone",
    "notify_within_hours", "notify_within_business_days", "holiday_country", "notify_emails", "webhook_url",
    "contacts", "system", "system_name", "system_description", "system_owner", "system_region",
    "role", "data_categories", "subject_categories", "est_subjects", "est_records", "region",
]
REQUIRED = {"controller", "system", "role", "data_categories", "subject_categories", "est_subjects", "est_records"}
# Which canonical field each CSV column feeds, so a validation error can name the column.
_COLUMN_OF = {
    ("controllers", "key"): "controller", ("controllers", "name"): "controller_name",
    ("controllers", "contract"): "notify_within_hours", ("controllers", "channels"): "notify_emails",
    ("systems", "key"): "system", ("systems", "name"): "system_name",
    ("systems", "description"): "system_description", ("systems", "owner"): "system_owner",
    ("systems", "region"): "system_region",
}


def split_list(value: str) -> list[str]:
    """Split a ';'-separated cell into stripped, non-empty items."""
    return [item.strip() for item in (value or "").split(";") if item.strip()]


def _contacts(cell: str) -> list[dict]:
    # Each contact is role|name|email|phone; contacts are separated by ';'.
    out = []
    for item in split_list(cell):
        parts = (item.split("|") + ["", "", ""])[:4]
        out.append(dict(zip(("role", "name", "email", "phone"), (p.strip() for p in parts))))
    return out


def _controller(row: dict) -> dict:
    contract = None
    if row.get("notify_within_hours") or row.get("notify_within_business_days"):
        contract = {k: row[k] or None for k in ("notify_within_hours", "notify_within_business_days",
                                                 "holiday_country") if k in row}
    channels: dict = {"email": split_list(row.get("notify_emails", ""))}
    if row.get("webhook_url"):
        channels["webhook"] = {"url": row["webhook_url"]}
    out = {"key": row["controller"], "name": row.get("controller_name") or row["controller"],
           "country": row.get("country", ""), "jurisdictions": split_list(row.get("jurisdictions", "")),
           "sector": row.get("sector", ""), "locale": row.get("locale") or "en",
           "timezone": row.get("timezone") or "UTC", "contacts": _contacts(row.get("contacts", "")),
           "channels": channels}
    if contract:
        out["contract"] = contract
    return out


def parse_csv(text: str, file: str) -> ParsedMap:
    """Parse and validate a CSV data map; errors name the file, the line and the column."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = sorted(REQUIRED - set(header))
    if missing:
        raise InputError(Problem(f"missing column(s): {', '.join(missing)}", file=file, line=1))
    unknown = sorted(set(header) - set(COLUMNS))
    if unknown:
        raise InputError(Problem(f"unknown column(s): {', '.join(unknown)}; expected {', '.join(COLUMNS)}",
                                 file=file, line=1))
    controllers: dict[str, tuple[dict, int]] = {}
    systems: dict[str, tuple[dict, int]] = {}
    processing: list[dict] = []
    lines: dict[tuple, int] = {}
    problems: list[Problem] = []
    for row, line in _rows(reader, file):
        if None in row:
            problems.append(Problem("row has more cells than the header", file=file, line=line))
            continue
        row = {k: (v or "").strip() for k, v in row.items()}
        for section, store, build, key in (("controllers", controllers, _controller, "controller"),
                                            ("systems", systems, _system, "system")):
            if not row.get(key):
                continue
            item = build(row)
            previous = store.get(row[key])
            if previous is None:
                lines[(section, len(store))] = line
                store[row[key]] = (item, line)
            elif previous[0] != item:
                field = next(k for k in item if item[k] != previous[0].get(k))
                problems.append(Problem(f"{key} {row[key]!r} differs from line {previous[1]} "
                                        f"(rows of one {key} must repeat the same values)",
                                        file=file, line=line, field=field))
        lines[("processing", len(processing))] = line
        processing.append({"controller": row["controller"], "system": row["system"], "role": row["role"],
                           "data_categories": split_list(row["data_categories"]),
                           "subject_categories": split_list(row["subject_categories"]),
                           "est_subjects": row["est_subjects"], "est_records": row["est_records"],
                           "region": row.get("region", "")})
    if problems:
        raise InputError(problems)
    raw = {"controllers": [c for c, _ in controllers.values()], "systems": [s for s, _ in systems.values()],
           "processing": processing}
    locate = lambda path: lines.get(tuple(path[:2]))  # noqa: E731
    try:
        data = DataMapIn.model_validate(raw)
    except ValidationError as exc:
        raise InputError([_csv_problem(e, file, locate) for e in exc.errors()]) from None
    return ParsedMap(data=data, file=file, locate=locate)


def _rows(reader: csv.DictReader, file: str):
    """Yield (row, line number where the row ends), turning csv errors into located problems."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(Problem(f"malformed CSV: {exc}", file=file, line=reader.line_num)) from None
        yield row, reader.line_num


def _system(row: dict) -> dict:
    return {"key": row["system"], "name": row.get("system_name") or row["system"],
            "description": row.get("system_description", ""), "owner": row.get("system_owner", ""),
            "region": row.get("system_region", "")}


def _csv_problem(error: dict, file: str, locate) -> Problem:
    loc = tuple(error["loc"])
    column = _COLUMN_OF.get((loc[0], loc[2]) if len(loc) > 2 else (), None) or (loc[2] if len(loc) > 2 else None)
    return Problem(error["msg"], file=file, line=locate(loc), field=str(column) if column else None)
