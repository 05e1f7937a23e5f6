"""CSV indicator lists: a header row, then one indicator per row (see docs/intel.md).

Columns: `type` and `value` (required); `confidence` (0-100), `tlp`, `first_seen`,
`last_seen`, `valid_until` (ISO 8601 with a zone), `techniques` (ATT&CK ids separated by `;`),
`group` (rows with the same group are related) and `description` (optional). Unknown columns
are an issue of the header; a bad row is an issue naming its line and column.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from core.errors import ValidationError
from intel.schemas import IndicatorRecord, Parsed
from intel.values import check_tlp, normalise

COLUMNS = (
    "type", "value", "confidence", "tlp", "first_seen", "last_seen", "valid_until",
    "techniques", "group", "description",
)  # fmt: skip
MAX_ROWS = 1_000_000


def read_csv(data: bytes, source: str) -> Parsed:
    parsed = Parsed()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        parsed.reject(source, "(document)", f"not UTF-8: {exc}")
        return parsed
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in reader.fieldnames or []]
    except csv.Error as exc:
        parsed.reject(source, "header", f"not CSV: {exc}", line=1)
        return parsed
    reader.fieldnames = header
    missing = [name for name in ("type", "value") if name not in header]
    unknown = [name for name in header if name not in COLUMNS]
    if missing or unknown:
        problem = f"missing columns {missing}" if missing else f"unknown columns {unknown}"
        parsed.reject(source, "header", f"{problem}; columns are {', '.join(COLUMNS)}", line=1)
        return parsed
    try:
        for number, row in enumerate(reader, start=2):
            if number > MAX_ROWS:
                parsed.reject(source, "(document)", f"more than {MAX_ROWS} rows", line=number)
                break
            try:
                parsed.records.append(_row(row))
            except ValidationError as exc:
                parsed.reject(source, exc.field, exc.problem, line=number)
    except csv.Error as exc:
        parsed.reject(source, "(document)", f"not CSV: {exc}", line=reader.line_num)
    return parsed


def _row(row: dict[str, str | None]) -> IndicatorRecord:
    def cell(name: str) -> str:
        value = row.get(name)
        return value.strip() if isinstance(value, str) else ""

    kind, value = normalise(cell("type").lower(), cell("value"))
    confidence = None
    if cell("confidence"):
        try:
            confidence = int(cell("confidence"))
        except ValueError:
            raise ValidationError("confidence", "must be a whole number 0-100") from None
        if not 0 <= confidence <= 100:
            raise ValidationError("confidence", "must be 0-100")
    return IndicatorRecord(
        type=kind,
        value=value,
        confidence=confidence,
        tlp=check_tlp(cell("tlp")) if cell("tlp") else None,
        first_seen=_when(cell("first_seen"), "first_seen"),
        last_seen=_when(cell("last_seen"), "last_seen"),
        valid_until=_when(cell("valid_until"), "valid_until"),
        techniques=tuple(t.strip().upper() for t in cell("techniques").split(";") if t.strip()),
        group_key=f"csv:{cell('group')}" if cell("group") else None,
        description=cell("description")[:500] or None,
    )


def _when(text: str, field: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(field, f"not an ISO 8601 time: {text[:40]!r}") from None
    if moment.tzinfo is None:
        raise ValidationError(field, "give a time zone, e.g. 2026-12-31T00:00+00:00")
    return moment
