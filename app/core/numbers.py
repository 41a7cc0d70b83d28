"""Bounds of stored integers: input models refuse what a column cannot hold (the database would raise, a 500)."""

ROW_ID_MAX = 2**31 - 1  # ids and versions: INTEGER / SERIAL columns on PostgreSQL
COUNT_MAX = 10**15  # estimated subjects or records: sums over many customers still fit a BIGINT (2**63 - 1)
