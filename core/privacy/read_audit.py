"""The read audit: every read of personal data writes who, when, what, why and whose.

A page or command that shows personal data makes one call:

    subjects = pseudonyms_in(alert.body)  # the data subjects the object names
    audit_personal_read(db=db, clock=clock, principal=user, object_type="alert",
                        object_id=alert.id, purpose=purpose, subjects=subjects)

which demands a purpose when there are data subjects (`PurposeRequired`) and writes one
`data.read` audit entry naming their pseudonyms in `details["subject_pseudonyms"]`: that is how
the access report ("who viewed my data") finds the read. The dashboard maps `PurposeRequired`
to a purpose form on pages and a 400 naming `purpose` in the API (`dashboard.security`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from core.accounts.models import Role
from core.audit import PendingEntry, append, audit_key, prepare
from core.clock import Clock
from core.privacy.errors import PrivacyError
from core.store.unit_of_work import is_write_unit, unit_of_work

# The audit action of a read of personal data, and the details key naming its data subjects.
READ_ACTION = "data.read"
SUBJECTS_KEY = "subject_pseudonyms"

MIN_PURPOSE = 5
MAX_PURPOSE = 500
# One group commit per engine for the audit's own write units (weak: engines of tests go).
_WRITERS: WeakKeyDictionary[Engine | Connection, GroupCommit] = WeakKeyDictionary()


class Reader(Protocol):
    """Who reads: the dashboard's `Principal` fits (a browser session or an API token)."""

    @property
    def username(self) -> str: ...
    @property
    def role(self) -> Role: ...
    @property
    def via(self) -> str: ...


class PurposeRequired(PrivacyError):
    """A read of personal data was asked for without a (long enough) purpose."""

    def __init__(self, problem: str = "state why you need to see this personal data") -> None:
        super().__init__("purpose", problem)


def clean_purpose(purpose: str | None) -> str | None:
    """Whitespace-normalised purpose, or None when absent."""
    if purpose is None:
        return None
    cleaned = " ".join(purpose.split())
    return cleaned or None


def require_purpose(purpose: str | None, subjects: Iterable[str]) -> str | None:
    """The cleaned purpose; raises PurposeRequired when there are subjects and no purpose."""
    cleaned = clean_purpose(purpose)
    if cleaned is not None and len(cleaned) > MAX_PURPOSE:
        raise PurposeRequired(f"must be at most {MAX_PURPOSE} characters")
    if list(subjects) and (cleaned is None or len(cleaned) < MIN_PURPOSE):
        raise PurposeRequired(
            f"required for personal data: state it in at least {MIN_PURPOSE} characters"
        )
    return cleaned


def audit_read(
    *,
    db: Session,
    clock: Clock,
    principal: Reader,
    object_type: str,
    object_id: str | None,
    purpose: str | None,
    subjects: Iterable[str] = (),
    details: dict[str, Any] | None = None,
) -> None:
    """Write one `data.read` entry, committed before the data is shown (fail closed).

    A read view holds a deferred read transaction; appending to the audit chain inside it
    would upgrade it to a write, which SQLite refuses at once with "database is locked" (its
    busy timeout does not apply to an upgrade). So the entry goes into its own write unit,
    begun IMMEDIATE, and is committed here; when that fails the exception propagates and the
    view shows nothing (a busy database becomes a 503). A caller already in a write unit
    (`WriteDb`) gets the entry in its own transaction instead, committed with its change.
    """
    payload: dict[str, Any] = {
        "role": principal.role.value,
        "via": "api-token" if principal.via == "token" else "session",
        SUBJECTS_KEY: sorted(set(subjects)),
        **(details or {}),
    }
    # Checks, JSON of the details and the key are done before the write unit: the unit holds
    # the database's one write lock for the chain step alone (logins and ingest wait on it).
    pending = prepare(
        key=audit_key(db),
        actor=principal.username,
        action=READ_ACTION,
        object_type=object_type,
        object_id=object_id,
        purpose=purpose,
        details=payload,
    )
    if is_write_unit(db):
        append(db=db, clock=clock, pending=pending)
        return
    _writer_of(db).write(clock=clock, pending=pending)


@dataclass(eq=False)
class _Waiting:
    clock: Clock
    pending: PendingEntry
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommit:
    """Audited reads of one engine's threads share write units: group commit of their entries.

    Each read still returns only once its own entry is committed (fail closed), and entries
    are chained one after another in one unit, so the chain is as if written singly. What
    changes: thirty analysts reading at once take the write lock (and pay the commit's fsync)
    a few times, not thirty times, and wait on a lock in this process that is handed over at
    once, rather than in SQLite's busy handler, which sleeps up to 100 ms between tries
    (bench/load.py: audited pages had twice the p95 of unaudited ones). The first waiting
    thread writes everything queued when the previous unit ends (at most `MAX_BATCH`); if
    that unit fails, every read in it fails.
    """

    MAX_BATCH = 100

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._queued = threading.Condition()  # guards `_queue`; notified when it grows
        self._writer_lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self.units = 0  # write units opened, for tests and the bench

    def write(self, *, clock: Clock, pending: PendingEntry) -> None:
        """Append `pending` to the chain and return once it is committed; raises otherwise."""
        mine = _Waiting(clock, pending)
        with self._queued:
            self._queue.append(mine)
            self._queued.notify_all()
        with self._writer_lock:
            if not mine.done.is_set():  # not taken by the previous unit: lead the next one
                with self._queued:
                    batch = self._queue[: self.MAX_BATCH]
                    del self._queue[: self.MAX_BATCH]
                self._write_batch(batch)
        if mine.error is not None:
            raise mine.error

    def _write_batch(self, batch: list[_Waiting]) -> None:
        try:
            self.units += 1
            with unit_of_work(self._factory) as audit_db:
                for waiting in batch:
                    append(db=audit_db, clock=waiting.clock, pending=waiting.pending)
        except BaseException as exc:
            for waiting in batch:
                waiting.error = exc
        finally:
            for waiting in batch:
                waiting.done.set()


def _writer_of(db: Session) -> GroupCommit:
    """The group commit of the read session's engine (built on first use, dropped with it)."""
    bind = db.get_bind()
    writer = _WRITERS.get(bind)
    if writer is None:
        factory = sessionmaker(bind=bind, expire_on_commit=False)
        writer = _WRITERS.setdefault(bind, GroupCommit(factory))
    return writer


def audit_personal_read(
    *,
    db: Session,
    clock: Clock,
    principal: Reader,
    object_type: str,
    object_id: str | None,
    purpose: str | None,
    subjects: Iterable[str],
    details: dict[str, Any] | None = None,
) -> str | None:
    """Demand a purpose when `subjects` names data subjects, then audit the read; the clean purpose.

    The one way a read of personal data is checked and recorded, so no page can do only half.
    """
    subjects = list(subjects)
    clean = require_purpose(purpose, subjects)
    audit_read(
        db=db,
        clock=clock,
        principal=principal,
        object_type=object_type,
        object_id=object_id,
        purpose=clean,
        subjects=subjects,
        details=details,
    )
    return clean
