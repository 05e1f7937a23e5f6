"""Persist correlation windows in the relational database (table detection_correlation_state).

Chosen over a JSON file because the windows must commit in the same transaction as the alert
outbox and the dedup groups (see ``detection.stream``): after a crash, the state and the
alerts it decided are either both there or both not, so a replayed batch neither loses a window
nor fires twice. Only groups that changed are written; an emptied group is deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.clock import Clock
from detection.correlation import CorrelationEngine, CorrelationSpec
from detection.models import CorrelationWindow, RuntimeValue

WATERMARK = "correlation.watermark"


def load_engine(
    *,
    db: Session,
    specs: Sequence[CorrelationSpec],
    lateness: float | None = None,
    owned: Callable[[str], bool] | None = None,
    watermark_name: str = WATERMARK,
) -> CorrelationEngine:
    """An engine holding every saved window of these specs (stale or foreign state is dropped).

    ``owned`` says which correlation ids this caller keeps windows for (default: all); rows of
    the others belong to the other path (streaming vs scheduled) and are left alone. Each path
    keeps its own event-time watermark under ``watermark_name``.
    """
    engine = CorrelationEngine(specs, lateness=lateness)
    stale: list[tuple[str, str]] = []
    for row in db.scalars(select(CorrelationWindow)):
        if owned is not None and not owned(row.correlation_id):
            continue
        key = (row.correlation_id, row.group_hash)
        if not engine.restore(key, row.state):
            stale.append(key)  # rule removed or changed: its old window means something else
    for correlation_id, group in stale:
        db.execute(
            delete(CorrelationWindow).where(
                CorrelationWindow.correlation_id == correlation_id,
                CorrelationWindow.group_hash == group,
            )
        )
    mark = db.get(RuntimeValue, watermark_name)
    if mark is not None and mark.value.get("time") is not None:
        engine.watermark = float(mark.value["time"])
    return engine


def save_engine(
    *, db: Session, engine: CorrelationEngine, clock: Clock, watermark_name: str = WATERMARK
) -> int:
    """Write the changed groups and the watermark in the caller's transaction; return count."""
    now = clock.now()
    written = 0
    for key in sorted(engine.dirty):
        data = engine.export(key)
        row = db.get(CorrelationWindow, key)
        if data is None:
            if row is not None:
                db.delete(row)
        elif row is None:
            db.add(
                CorrelationWindow(
                    correlation_id=key[0], group_hash=key[1], state=data, updated_at=now
                )
            )
        else:
            row.state = data
            row.updated_at = now
        written += 1
    engine.dirty.clear()
    if engine.watermark is not None:
        mark = db.get(RuntimeValue, watermark_name)
        value = {"time": engine.watermark}
        if mark is None:
            db.add(RuntimeValue(name=watermark_name, value=value, updated_at=now))
        elif mark.value != value:
            mark.value = value
            mark.updated_at = now
    db.flush()
    return written
