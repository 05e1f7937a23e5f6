"""One prepared SELECT read straight from the connection pool, for lookups on every request.

The web session check runs before every page and API call. Through the ORM it costs a pool
checkout, our explicit BEGIN, the SELECT, SQLAlchemy's result machinery and a ROLLBACK when the
session closes: about 250 µs on SQLite here, for a query SQLite answers in 10 µs. `PreparedRead`
keeps SQLAlchemy for what it is good at (the statement, its SQL for each dialect, the column
types' conversions) and runs the compiled SQL on a pooled DBAPI connection: about 20 µs
(`bench/dashboard.py` prints both as `session_check_us`).

Inside an open ORM transaction the read goes through the session, so it sees that transaction's
own changes, exactly as `Session.execute` would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

_Processor = Callable[[Any], Any] | None


class _Compiled:
    """The statement's SQL, parameter order and type conversions for one dialect."""

    def __init__(self, statement: Select[*tuple[Any, ...]], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.positions = tuple(compiled.positiontup or ()) if dialect.positional else None
        self.bind_processors: dict[str, _Processor] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }
        self.result_processors: tuple[_Processor, ...] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        )

    def parameters(self, values: Mapping[str, Any]) -> Any:
        converted = {}
        for name, processor in self.bind_processors.items():
            value = values[name]
            converted[name] = value if processor is None else processor(value)
        if self.positions is None:
            return converted
        return tuple(converted[name] for name in self.positions)

    def row(self, raw: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            value if processor is None or value is None else processor(value)
            for processor, value in zip(self.result_processors, raw, strict=True)
        )


class PreparedRead:
    """`first(db, params)`: the first row of `statement`, as `db.execute(...).first()` gives it.

    Only for plain column SELECTs (no ORM entities) whose parameters are all named bind
    parameters given in `params`.
    """

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def first(self, db: Session, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        bind = db.get_bind()
        if db.in_transaction() or not isinstance(bind, Engine):
            row = db.execute(self.statement, dict(params)).first()
            return None if row is None else tuple(row)
        compiled = self._compiled(bind.dialect)
        connection = bind.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(compiled.sql, compiled.parameters(params))
                raw = cursor.fetchone()
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool, which rolls back what the SELECT began
        return None if raw is None else compiled.row(tuple(raw))

    def _compiled(self, dialect: Dialect) -> _Compiled:
        key = f"{dialect.name}+{dialect.driver}"
        compiled = self._by_dialect.get(key)
        if compiled is None:
            compiled = self._by_dialect[key] = _Compiled(self.statement, dialect)
        return compiled
