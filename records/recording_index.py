"""The recordings repository: every SQL statement on ``recordings`` and ``recording_flags``.

A row moves ``pending`` → ``stored`` → ``deleting`` → gone; readers only ever see ``stored``
rows. Methods that must share a transaction with an evidence append take the connection; the
others open and commit their own. The database being unreachable, or failing a statement, is a
:class:`ivr.errors.StoreUnavailableError` (:meth:`RecordingIndex.connect`: the adapter's edge).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ivr.errors import StoreUnavailableError
from records.recording import RecordingInfo, RecordingNotFoundError, RecordingQuery
from records.tables import recording_flags, recordings
from records.timeutil import from_db, to_db

r = recordings.c
MAX_PAGE = 1000


class RecordingIndex:
    """SQL access to the recordings index."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for a ``with`` block: any SQL error in it (connecting, a statement, the
        commit: PostgreSQL restarting) is a :class:`StoreUnavailableError`."""
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreUnavailableError(
                f"recording index unavailable ({type(exc).__name__})"
            ) from exc

    # -- ingest ------------------------------------------------------------------------------

    def insert_pending(
        self, row: Mapping[str, Any], flags: Sequence[str], sources_gone: Sequence[str] = ()
    ) -> None:
        """Commit the intent row; also forget the sources of ``sources_gone`` (earlier ingests
        whose plaintext is removed: one commit fewer per ingest)."""
        with self.connect() as conn:
            if sources_gone:
                self._clear_sources_in(conn, sources_gone)
            self.insert_in(conn, row, flags)
            conn.commit()

    @staticmethod
    def insert_in(conn: Connection, row: Mapping[str, Any], flags: Sequence[str]) -> None:
        """Insert a recordings row and its QA flags inside the caller's transaction (the
        intent row; a replayed outage spool's stored row)."""
        conn.execute(recordings.insert().values(**row))
        if flags:
            conn.execute(
                recording_flags.insert(),
                [
                    {
                        "recording_id": row["recording_id"],
                        "flag": f,
                        "started_at": row["started_at"],
                    }
                    for f in flags
                ],
            )

    @staticmethod
    def status_in(conn: Connection, recording_id: str) -> str | None:
        """The status of ``recording_id``'s row, ``None`` when the index has none."""
        found = conn.execute(sa.select(r.status).where(r.recording_id == recording_id)).first()
        return None if found is None else str(found[0])

    @staticmethod
    def mark_stored_in(
        conn: Connection, recording_id: str, size: int, digest: str, at: datetime
    ) -> None:
        conn.execute(
            recordings.update()
            .where(r.recording_id == recording_id)
            .values(status="stored", size_bytes=size, plaintext_sm3=digest, stored_at=to_db(at))
        )

    def clear_sources(self, recording_ids: Sequence[str]) -> None:
        """Forget the plaintext sources of these recordings (they are removed)."""
        if not recording_ids:
            return
        with self.connect() as conn:
            self._clear_sources_in(conn, recording_ids)
            conn.commit()

    @staticmethod
    def _clear_sources_in(conn: Connection, recording_ids: Sequence[str]) -> None:
        conn.execute(
            recordings.update()
            .where(r.recording_id.in_(list(recording_ids)))
            .values(source_path=None)
        )

    def delete_pending(self, recording_id: str) -> None:
        with self.connect() as conn:
            conn.execute(
                recording_flags.delete().where(recording_flags.c.recording_id == recording_id)
            )
            conn.execute(
                recordings.delete().where(
                    (r.recording_id == recording_id) & (r.status == "pending")
                )
            )
            conn.commit()

    # -- read --------------------------------------------------------------------------------

    def stored_row(self, recording_id: str) -> dict[str, Any]:
        """The stored row with its ``qa_flags``; :class:`RecordingNotFoundError` otherwise."""
        with self.connect() as conn:
            row = conn.execute(
                sa.select(recordings).where(
                    (r.recording_id == recording_id) & (r.status == "stored")
                )
            ).one_or_none()
            if row is None:
                raise RecordingNotFoundError(f"no stored recording {recording_id}")
            data = dict(row._mapping)
            data["qa_flags"] = tuple(
                conn.execute(
                    sa.select(recording_flags.c.flag)
                    .where(recording_flags.c.recording_id == recording_id)
                    .order_by(recording_flags.c.flag)
                ).scalars()
            )
        return data

    def stored_rows(self, recording_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The stored rows of ``recording_ids`` with their ``qa_flags``, in the order given
        (ids no longer stored are left out): two queries for a whole search page."""
        with self.connect() as conn:
            return self._with_flags(conn, self._rows_in(conn, recording_ids))

    @staticmethod
    def _rows_in(conn: Connection, recording_ids: Sequence[str]) -> list[dict[str, Any]]:
        if not recording_ids:
            return []
        ids = list(recording_ids)
        found = {
            row.recording_id: dict(row._mapping)
            for row in conn.execute(
                sa.select(recordings).where(r.recording_id.in_(ids) & (r.status == "stored"))
            )
        }
        return [found[rid] for rid in ids if rid in found]

    @staticmethod
    def _with_flags(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        flags: dict[str, list[str]] = {}
        if rows:
            for rid, flag in conn.execute(
                sa.select(recording_flags.c.recording_id, recording_flags.c.flag)
                .where(recording_flags.c.recording_id.in_([row["recording_id"] for row in rows]))
                .order_by(recording_flags.c.flag)
            ):
                flags.setdefault(rid, []).append(flag)
        for row in rows:
            row["qa_flags"] = tuple(flags.get(row["recording_id"], ()))
        return rows

    def search_ids(self, query: RecordingQuery, customer_bi: str | None) -> list[str]:
        """Ids of stored rows matching ``query`` (newest first); ``customer_bi`` replaces the
        query's number, which the caller has blind-indexed."""
        with self.connect() as conn:
            return list(conn.execute(_search(query, customer_bi, ids_only=True)).scalars())

    def search_rows(self, query: RecordingQuery, customer_bi: str | None) -> list[dict[str, Any]]:
        """The stored rows matching ``query`` (newest first) with their ``qa_flags``, on one
        connection: the page and its flags (by QA flag: the page's ids, its rows, its flags)."""
        stmt = _search(query, customer_bi, ids_only=False)
        with self.connect() as conn:
            if _by_flag(query, customer_bi):
                rows = self._rows_in(conn, list(conn.execute(stmt).scalars()))
            else:
                rows = [dict(row._mapping) for row in conn.execute(stmt)]
            return self._with_flags(conn, rows)

    # -- retention ---------------------------------------------------------------------------

    def stored_until(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Stored rows whose recorded retention date is at or before ``now``, oldest first."""
        with self.connect() as conn:
            return [
                dict(row._mapping)
                for row in conn.execute(
                    sa.select(recordings)
                    .where((r.status == "stored") & (r.retain_until <= to_db(now)))
                    .order_by(r.retain_until)
                    .limit(limit)
                )
            ]

    @staticmethod
    def mark_deleting_in(conn: Connection, recording_id: str) -> None:
        """Erase the wrapped key and sealed number: the object is unreadable from here on."""
        conn.execute(
            recordings.update()
            .where(r.recording_id == recording_id)
            .values(
                status="deleting", wrapped_key=b"", customer_enc=None, customer_wrapped_key=None
            )
        )

    def delete_row(self, recording_id: str) -> None:
        with self.connect() as conn:
            conn.execute(
                recording_flags.delete().where(recording_flags.c.recording_id == recording_id)
            )
            conn.execute(recordings.delete().where(r.recording_id == recording_id))
            conn.commit()

    # -- recovery and rotation ---------------------------------------------------------------

    def unfinished(
        self, pending_before: datetime
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]], list[tuple[str, str]]]:
        """Interrupted work: (pending ``(id, key)`` older than the cutoff, stored rows with a
        source still named ``(id, path, sm3)``, deleting ``(id, key)``)."""
        with self.connect() as conn:
            pending = conn.execute(
                sa.select(r.recording_id, r.storage_key).where(
                    (r.status == "pending") & (r.created_at <= to_db(pending_before))
                )
            ).all()
            leftovers = conn.execute(
                sa.select(r.recording_id, r.source_path, r.plaintext_sm3).where(
                    (r.status == "stored") & r.source_path.is_not(None)
                )
            ).all()
            deleting = conn.execute(
                sa.select(r.recording_id, r.storage_key).where(r.status == "deleting")
            ).all()
        return (
            [(row[0], row[1]) for row in pending],
            [(row[0], row[1], row[2]) for row in leftovers],
            [(row[0], row[1]) for row in deleting],
        )

    def rewrap_batch(
        self,
        current_key_id: str,
        batch: int,
        rewrap: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    ) -> int:
        """Give up to ``batch`` rows with a data key (the recording's or the number's) not under
        ``current_key_id`` the new key columns ``rewrap(row)`` returns; returns how many."""
        not_current = (r.key_id != current_key_id) | (
            r.customer_key_id.is_not(None) & (r.customer_key_id != current_key_id)
        )
        with self.connect() as conn:
            rows = conn.execute(
                sa.select(
                    r.recording_id,
                    r.key_id,
                    r.wrapped_key,
                    r.customer_bi,
                    r.customer_masked,
                    r.customer_enc,
                    r.customer_key_id,
                    r.customer_wrapped_key,
                )
                .where(not_current & r.status.in_(("pending", "stored")))
                .limit(batch)
            ).all()
            for row in rows:
                conn.execute(
                    recordings.update()
                    .where((r.recording_id == row.recording_id) & (r.key_id == row.key_id))
                    .values(**rewrap(dict(row._mapping)))
                )
            conn.commit()
        return len(rows)


def to_info(row: Mapping[str, Any], customer: str | None) -> RecordingInfo:
    """A stored row as a reader sees it, ``customer`` being the masked or revealed number."""
    return RecordingInfo(
        recording_id=row["recording_id"],
        call_id=row["call_id"],
        customer=customer,
        customer_bi=row["customer_bi"],
        campaign=row["campaign"],
        business_type=row["business_type"],
        direction=row["direction"],
        started_at=from_db(row["started_at"]),
        ended_at=from_db(row["ended_at"]),
        duration_ms=int(row["duration_ms"]),
        agent_id=row["agent_id"],
        flow_version=row["flow_version"],
        consent_state=row["consent_state"],
        qa_flags=tuple(row["qa_flags"]),
        retain_until=from_db(row["retain_until"]),
        size_bytes=row["size_bytes"],
        media_type=row["media_type"],
        key_id=row["key_id"],
        disposition=row.get("disposition"),
    )


def _by_flag(query: RecordingQuery, customer_bi: str | None) -> bool:
    """Read the page from a QA flag's side: a flag and no point filter (customer, call id)."""
    return bool(query.flags) and customer_bi is None and query.call_id is None


def _search(query: RecordingQuery, customer_bi: str | None, *, ids_only: bool) -> sa.Select[Any]:
    """The search statement, newest first. With a QA flag and no point filter the page is read
    from the flag's side: ``recording_flags`` (flag, started_at) newest first, each recording
    checked by its full key (a semi-join: only ids); otherwise from ``recordings`` newest first
    through the filter's (column, started_at) index, flags checked per row (records_0005;
    p99 at 1M rows in bench/bench_console.py)."""
    conds: list[sa.ColumnElement[bool]] = [r.status == "stored"]
    if customer_bi is not None:
        conds.append(r.customer_bi == customer_bi)
    if query.started_from is not None:
        conds.append(r.started_at >= to_db(query.started_from))
    if query.started_to is not None:
        conds.append(r.started_at < to_db(query.started_to))
    for column, value in (
        (r.business_type, query.business_type),
        (r.campaign, query.campaign),
        (r.direction, query.direction),
        (r.agent_id, query.agent_id),
        (r.call_id, query.call_id),
        (r.disposition, query.disposition),
    ):
        if value is not None:
            conds.append(column == value)
    if query.flow is not None:  # flow_version is "name@version"
        conds.append(r.flow_version.startswith(f"{query.flow}@", autoescape=True))
    flags = sorted(set(query.flags))
    by_flag = _by_flag(query, customer_bi)
    for flag in flags[1:] if by_flag else flags:
        conds.append(
            sa.exists().where(
                (recording_flags.c.recording_id == r.recording_id)
                & (recording_flags.c.flag == flag)
            )
        )
    page = max(1, min(query.limit, MAX_PAGE)), max(0, query.offset)
    if by_flag:
        f = recording_flags.alias("f").c  # aliased: the other flags' EXISTS stay on recordings
        driver: list[sa.ColumnElement[bool]] = [f.flag == flags[0]]
        if query.started_from is not None:
            driver.append(f.started_at >= to_db(query.started_from))
        if query.started_to is not None:
            driver.append(f.started_at < to_db(query.started_to))
        recording = sa.exists().where(
            (r.recording_id == f.recording_id) & (r.started_at == f.started_at), *conds
        )
        return (
            sa.select(f.recording_id)
            .where(*driver, recording)
            .order_by(f.started_at.desc(), f.recording_id)
            .limit(page[0])
            .offset(page[1])
        )
    stmt = sa.select(r.recording_id) if ids_only else sa.select(recordings)
    return (
        stmt.where(*conds)
        .order_by(r.started_at.desc(), r.recording_id)
        .limit(page[0])
        .offset(page[1])
    )
