"""Claiming work rows atomically, so two workers (threads or processes) never take the same row.

PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, then UPDATE the ids; rows another transaction is
claiming are skipped, not waited for. SQLite has one writer at a time: a single conditional
UPDATE ... RETURNING (first statement of a BEGIN IMMEDIATE transaction, see `immediate_session`)
re-checks the claim condition as it writes it. Either way the caller commits at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select


def claim_rows(*, session: Session, model: Any, claimable: sa.ColumnElement, order_by: Sequence[Any],
               values: Mapping[str, Any], limit: int) -> list[int]:
    """Set `values` on up to `limit` rows of `model` matching `claimable`, atomically; return their ids."""
    id_column = model.id
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.exec(select(id_column).where(claimable).order_by(*order_by).limit(limit)
                                .with_for_update(skip_locked=True)))
        if ids:
            session.exec(sa.update(model).where(id_column.in_(ids)).values(**values)
                         .execution_options(synchronize_session=False))
        return ids
    inner = select(id_column).where(claimable).order_by(*order_by).limit(limit)
    stmt = (sa.update(model).where(id_column.in_(inner.scalar_subquery()), claimable).values(**values)
            .returning(id_column).execution_options(synchronize_session=False))
    return list(session.execute(stmt).scalars())


