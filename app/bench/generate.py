"""A synthetic data map for the bench, loaded with bulk inserts (COPY on PostgreSQL, executemany on SQLite)."""

from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator, Sequence

import sqlalchemy as sa

# Realistic mixes: most tenants hold contact and account data, fewer hold payment, health or children's data.
CATEGORY_MIX: list[tuple[str, int]] = [
    ("user.contact.email", 90), ("user.name", 80), ("user.account.username", 60), ("user.contact.phone_number", 45),
    ("user.contact.address", 35), ("user.device.ip_address", 40), ("user.authorization.password", 25),
    ("user.behavior.browsing_history", 15), ("user.payment", 12), ("user.financial.bank_account", 6),
    ("user.health_and_medical", 4), ("user.government_id.passport_number", 2), ("user.childrens", 1),
    ("user.biometric", 1),
]
SUBJECT_MIX: list[tuple[str, int]] = [("customer", 70), ("employee", 25), ("prospect", 10), ("patient", 3),
                                      ("child", 1), ("job_applicant", 4)]
COUNTRIES = ["DE", "FR", "NL", "IE", "GB", "US", "BR", "ES", "IT", "PL", "SE", "JP"]
JURISDICTION_OF = {"GB": "UK", "US": "US-CA", "BR": "BR", "JP": "JP"}
SCALES = {"large": {"systems": 2000, "controllers": 20_000, "records": 1_000_000},
          "small": {"systems": 200, "controllers": 200, "records": 10_000}}
SCOPE_SYSTEMS = 50


@dataclass
class MapShape:
    """Sizes of the generated map."""

    systems: int
    controllers: int
    records: int

    @property
    def slots(self) -> int:
        """Processing records per controller at full size."""
        return max(1, self.records // self.controllers)


def _weighted(rng: random.Random, mix: Sequence[tuple[str, int]], low: int, high: int) -> list[str]:
    keys, weights = zip(*mix)
    chosen: set[str] = set()
    for key in rng.choices(keys, weights=weights, k=rng.randint(low, high)):
        chosen.add(key)
    return sorted(chosen)


def bulk_insert(conn: sa.Connection, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """Load rows fast: COPY on PostgreSQL, one executemany per 50,000 rows elsewhere; returns the count."""
    count = 0
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            with cur.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        return count
    sql = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({", ".join("?" * len(columns))})'
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 50_000:
            conn.exec_driver_sql(sql, batch)
            count += len(batch)
            batch = []
    if batch:
        conn.exec_driver_sql(sql, batch)
        count += len(batch)
    return count


def _ts(value: datetime):
    """How a UTCDateTime column stores a value, per dialect (SQLite: naive UTC string)."""
    return value


def create_base(conn: sa.Connection, shape: MapShape, *, webhook_base: str = "http://127.0.0.1:9/hooks") -> None:
    """Systems, controllers (with jurisdictions, e-mail and webhook), nothing else."""
    rng = random.Random(7)
    bulk_insert(conn, "system", ("id", "key", "name", "description", "owner", "region"),
                ((i, f"sys-{i:05d}", f"System {i}", "", "platform", "eu-west-1") for i in range(1, shape.systems + 1)))
    import json

    def controllers():
        for i in range(1, shape.controllers + 1):
            country = COUNTRIES[i % len(COUNTRIES)]
            yield (i, f"ctl-{i:06d}", f"Customer {i:06d} {rng.choice(['GmbH', 'Ltd', 'SAS', 'BV', 'Inc'])}",
                   country, "saas", "en", "UTC", 72 if i % 3 else 24,
                   json.dumps([f"dpo@ctl-{i:06d}.example"]), f"{webhook_base}/ctl-{i:06d}",
                   "whsec_YnJlYWNobGluZS1iZW5jaC1rZXktMzItYnl0ZXMtbG9uZw==")

    bulk_insert(conn, "controller", ("id", "key", "name", "country", "sector", "locale", "timezone",
                                     "notify_within_hours", "notify_emails", "webhook_url", "webhook_secret"),
                controllers())

    def jurisdictions():
        for i in range(1, shape.controllers + 1):
            country = COUNTRIES[i % len(COUNTRIES)]
            yield (i, JURISDICTION_OF.get(country, "EU"))
            if i % 10 == 0 and country not in JURISDICTION_OF:
                yield (i, "UK")

    bulk_insert(conn, "controller_jurisdiction", ("controller_id", "code"), jurisdictions())
    _fix_sequences(conn, ("system", "controller"))


def _system_slots(c: int, shape: MapShape, phase: int) -> list[int]:
    """0-based system indexes of controller c's records: phase 1 holds 1/10 of the map, phase 2 the rest.

    Phase 1 systems share the residue 37c mod (S/5); phase 2 avoids that residue and the first
    SCOPE_SYSTEMS systems, so growing the map to full size leaves the "b" scope (systems 1..50) unchanged.
    """
    s_count = shape.systems
    step = s_count // 5
    first = [(37 * c + k * step) % s_count for k in range(max(1, shape.slots // 10))]
    if phase == 1:
        return first
    taken, found, t = set(first), [], 1
    want = shape.slots - len(first)
    while len(found) < want and t < 10 * s_count:
        s = (37 * c + t * 41) % s_count
        t += 1
        if s < SCOPE_SYSTEMS or s in taken or s % step == (37 * c) % step:
            continue
        taken.add(s)
        found.append(s)
    return found


RECORDS_PER_CHUNK = 50_000  # records generated and loaded at a time: memory stays flat in the map size


def add_records(conn: sa.Connection, shape: MapShape, *, phase: int, start_id: int) -> int:
    """Processing records with data and subject categories; returns the next free record id."""
    rng = random.Random(phase * 1000 + 11)
    # Category and subject mixes drawn from pools of weighted draws: one random pick per record
    # instead of a dozen; 4,096 distinct mixes are plenty for a synthetic map.
    cat_pool = [_weighted(rng, CATEGORY_MIX, 2, 5) for _ in range(4096)]
    subject_pool = [_weighted(rng, SUBJECT_MIX, 1, 2) for _ in range(4096)]
    getrandbits = rng.getrandbits
    records, cats, subjects = [], [], []
    rid = start_id

    def flush() -> None:
        # Records first: the category rows reference them.
        bulk_insert(conn, "processing_record", ("id", "controller_id", "system_id", "role", "est_subjects",
                                                "est_records", "region"), records)
        bulk_insert(conn, "processing_data_category", ("record_id", "category_key"), cats)
        bulk_insert(conn, "processing_subject_category", ("record_id", "subject_key"), subjects)
        records.clear()
        cats.clear()
        subjects.clear()

    for c in range(1, shape.controllers + 1):
        for s in _system_slots(c, shape, phase):
            role = "controller" if c == 1 else ("sub-processor" if (c + s) % 17 == 0 else "processor")
            n_subjects = 50 + getrandbits(24) % 199_951
            records.append((rid, c, s + 1, role, n_subjects, n_subjects * (1 + getrandbits(8) % 30), "eu-west-1"))
            cats.extend(zip(repeat(rid), cat_pool[getrandbits(12)]))
            subjects.extend(zip(repeat(rid), subject_pool[getrandbits(12)]))
            rid += 1
        if len(records) >= RECORDS_PER_CHUNK:
            flush()
    flush()
    _fix_sequences(conn, ("processing_record",))
    return rid


@contextmanager
def loading(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One transaction for a synthetic bulk load, with per-row foreign-key checks off where the database allows.

    The generator writes consistent ids by construction; checking each of millions of link rows
    against its record costs more than writing it. SQLite: PRAGMA foreign_keys (outside the
    transaction, reset afterwards); PostgreSQL: session_replication_role = replica for this
    transaction when the role may set it (a superuser), else the checks simply stay on.
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # on the driver connection: SQLite ignores this pragma inside a transaction
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            # A page cache that holds the indexes being filled (system_id arrives in random order).
            conn.connection.driver_connection.execute("PRAGMA cache_size=-131072")
        try:
            with conn.begin():
                if not sqlite:
                    try:
                        with conn.begin_nested():
                            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                    except sa.exc.DBAPIError:
                        pass  # not a superuser: keep the checks
                yield conn
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
                conn.connection.driver_connection.execute("PRAGMA cache_size=-2000")  # SQLite's default


def _fix_sequences(conn: sa.Connection, tables: Sequence[str]) -> None:
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                             f"(SELECT coalesce(max(id), 1) FROM \"{table}\"))")


def analyze(engine: sa.Engine) -> None:
    """Fresh planner statistics after a bulk load (what an operator runs after a large import).

    On PostgreSQL also VACUUM: it sets the visibility map, without which every index-only scan
    of freshly loaded rows still visits the heap (product and baseline alike). On SQLite through
    the driver connection, outside any transaction: the engine's BEGIN hook would otherwise wrap
    ANALYZE in a transaction that is never committed, and the statistics would be lost.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.connection.driver_connection.execute("ANALYZE")
            return
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")


def base_time() -> datetime:
    """The bench's fixed 'now'."""
    return datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
