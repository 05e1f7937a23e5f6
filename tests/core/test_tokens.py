"""The one API-token model: collector (user-less, source-bound) tokens, the `ingest` scope,
revocation and expiry refused with a reason, audit entries, and the tokens01 migration that
turns old collector tokens into API tokens that still work. Both backends."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from core.accounts import Role, create_user
from core.accounts.auth_models import ApiToken
from core.accounts.tokens import (
    TokenForbiddenError,
    TokenRefusedError,
    authorize_ingest,
    create_token,
    list_tokens,
    revoke_token,
    shown_prefix,
    touch_token,
    verify_token,
)
from core.audit import AuditEntry, verify
from core.clock import FrozenClock
from core.config import Settings
from core.errors import NotFoundError, ValidationError
from core.store.relational import (
    alembic_config,
    create_db_engine,
    create_session_factory,
    migrate,
)
from core.store.unit_of_work import unit_of_work


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    return db_settings


@pytest.fixture
def db(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))


def _bearer(token: str) -> str:
    return f"Bearer {token}"


def _actions(db: Session, token_id: int) -> list[str]:
    rows = db.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.object_type == "api_token", AuditEntry.object_id == str(token_id))
        .order_by(AuditEntry.seq)
    )
    return list(rows)


def test_collector_token_is_bound_to_its_source(db: Session, clock: FrozenClock) -> None:
    issued = create_token(
        db=db, username=None, name="zaaksysteem", scopes=["ingest"], source="zaaksysteem",
        clock=clock, actor="cli:ops",
    )  # fmt: skip
    assert issued.token.startswith("dkw_") and issued.source == "zaaksysteem"
    ok = authorize_ingest(
        db=db, authorization=_bearer(issued.token), clock=clock, source="zaaksysteem"
    )
    assert ok.user is None and ok.source == "zaaksysteem"
    # OTLP names no source in the path: the binding says where the records go
    otlp = authorize_ingest(db=db, authorization=_bearer(issued.token), clock=clock, source=None)
    assert otlp.source == "zaaksysteem"
    with pytest.raises(TokenForbiddenError, match="bound to source 'zaaksysteem', not 'brp'"):
        authorize_ingest(db=db, authorization=_bearer(issued.token), clock=clock, source="brp")
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "token.created")).one()
    assert entry.actor == "cli:ops"
    assert entry.details["source"] == "zaaksysteem" and entry.details["scopes"] == ["ingest"]
    assert issued.token not in str(entry.details)


def test_scopes_decide_what_a_token_reaches(db: Session, clock: FrozenClock) -> None:
    create_user(db=db, username="ana", password="rivierdijk-hoogwater-2026", role=Role.ANALYST,
                clock=clock)  # fmt: skip
    reader = create_token(
        db=db, username="ana", name="r", scopes=["read:alerts"], clock=clock, actor="t"
    ).token
    with pytest.raises(TokenForbiddenError, match="lacks the 'ingest' scope"):
        authorize_ingest(db=db, authorization=_bearer(reader), clock=clock, source="brp")
    unbound = create_token(
        db=db, username="ana", name="i", scopes=["ingest"], clock=clock, actor="t"
    ).token
    # An unbound ingest token may send for any source, but OTLP needs a bound one.
    assert authorize_ingest(
        db=db, authorization=_bearer(unbound), clock=clock, source="any-source"
    ).source == "any-source"  # fmt: skip
    with pytest.raises(TokenForbiddenError, match="bound to no source"):
        authorize_ingest(db=db, authorization=_bearer(unbound), clock=clock, source=None)
    with pytest.raises(TokenRefusedError, match="expected 'Bearer <token>'"):
        authorize_ingest(db=db, authorization=None, clock=clock, source="brp")


def test_bad_requests_name_the_field(db: Session, clock: FrozenClock) -> None:
    cases = [
        ({"username": None, "scopes": ["read:alerts"]}, "scope", "without a user"),
        ({"username": None, "scopes": ["ingest"], "source": "Not A Slug"}, "source", "a-z"),
        ({"username": None, "scopes": []}, "scope", "at least one"),
    ]
    for kwargs, field, words in cases:
        with pytest.raises(ValidationError, match=words) as caught:
            create_token(db=db, name="x", clock=clock, actor="t", **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field
    create_user(db=db, username="ana", password="rivierdijk-hoogwater-2026", role=Role.ANALYST,
                clock=clock)  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        create_token(
            db=db, username="ana", name="x", scopes=["read:alerts"], source="brp", clock=clock,
            actor="t",
        )  # fmt: skip
    assert caught.value.field == "source"
    with pytest.raises(NotFoundError):
        create_token(db=db, username="nobody", name="x", scopes=["ingest"], clock=clock, actor="t")


def test_revoked_and_expired_tokens_are_refused_with_the_reason(
    db: Session, clock: FrozenClock
) -> None:
    issued = create_token(
        db=db, username=None, name="brp", scopes=["ingest"], source="brp", clock=clock,
        actor="t", expires_in=timedelta(days=1),
    )  # fmt: skip
    assert verify_token(db=db, token=issued.token, clock=clock).token_id == issued.id
    clock.advance(timedelta(days=1))
    with pytest.raises(TokenRefusedError, match=rf"token {issued.id} expired at 2026-12-02T08:00"):
        verify_token(db=db, token=issued.token, clock=clock)
    second = create_token(
        db=db, username=None, name="brp", scopes=["ingest"], source="brp", clock=clock, actor="t"
    )
    revoke_token(db=db, token_id=second.id, clock=clock, actor="root")
    revoke_token(db=db, token_id=second.id, clock=clock, actor="root")  # once is enough
    with pytest.raises(TokenRefusedError, match=rf"token {second.id} was revoked at 2026-12-02"):
        authorize_ingest(db=db, authorization=_bearer(second.token), clock=clock, source="brp")
    assert _actions(db, second.id) == ["token.created", "token.revoked"]
    with pytest.raises(NotFoundError):
        revoke_token(db=db, token_id=999_999, clock=clock, actor="root")
    with pytest.raises(TokenRefusedError, match="unknown token"):
        verify_token(db=db, token="dkw_00000000_guess", clock=clock)


def test_first_use_is_audited_later_use_moves_last_used(db: Session, clock: FrozenClock) -> None:
    issued = create_token(
        db=db, username=None, name="brp", scopes=["ingest"], source="brp", clock=clock, actor="t"
    )
    for _ in range(3):
        identity = verify_token(db=db, token=issued.token, clock=clock)
        if identity.touch_due:
            touch_token(db=db, token_id=identity.token_id, clock=clock)
        clock.advance(timedelta(minutes=2))
    assert _actions(db, issued.id) == ["token.created", "token.first_used"]
    row = db.get(ApiToken, issued.id)
    assert row is not None and row.last_used_at == datetime(2026, 12, 1, 8, 4, tzinfo=UTC)
    first_use = db.scalars(select(AuditEntry).where(AuditEntry.action == "token.first_used")).one()
    assert first_use.actor == f"token:{issued.id}"
    assert verify(db=db).ok


def test_tokens01_keeps_old_collector_tokens_working(settings: Settings) -> None:
    """Upgrade from the previous head with rows in collector_tokens: the old secrets verify."""
    migrate(settings, "ldv01")
    live, revoked = "dwi_" + "a" * 43, "dwi_" + "b" * 43
    engine = create_db_engine(settings)
    try:
        with engine.begin() as connection:
            for secret, source, revoked_at in (
                (live, "zaaksysteem", None),
                (revoked, "brp", datetime(2026, 11, 30, 12, 0, tzinfo=UTC)),
            ):
                connection.execute(
                    text(
                        "INSERT INTO collector_tokens (source, token_sha256, created_at, "
                        "revoked_at) VALUES (:source, :digest, :created, :revoked)"
                    ),
                    {
                        "source": source,
                        "digest": hashlib.sha256(secret.encode()).hexdigest(),
                        "created": datetime(2026, 11, 1, tzinfo=UTC),
                        "revoked": revoked_at,
                    },
                )
        migrate(settings)
        clock = FrozenClock(datetime(2026, 12, 1, tzinfo=UTC))
        with unit_of_work(create_session_factory(engine)) as db:
            identity = authorize_ingest(
                db=db, authorization=_bearer(live), clock=clock, source="zaaksysteem"
            )
            assert identity.user is None and identity.scopes == {"ingest"}
            with pytest.raises(TokenForbiddenError):
                authorize_ingest(db=db, authorization=_bearer(live), clock=clock, source="brp")
            with pytest.raises(TokenRefusedError, match="revoked at 2026-11-30T12:00:00"):
                verify_token(db=db, token=revoked, clock=clock)
            listed = {token.source: (token, user) for token, user in list_tokens(db=db)}
            token, user = listed["zaaksysteem"]
            assert user is None and shown_prefix(token) == "dwi_…"
            assert token.created_at == datetime(2026, 11, 1, tzinfo=UTC)
            # and the unified model revokes them like any other token
            revoke_token(db=db, token_id=token.id, clock=clock, actor="root")
        with unit_of_work(create_session_factory(engine)) as db:
            with pytest.raises(TokenRefusedError, match="revoked"):
                verify_token(db=db, token=live, clock=clock)
            assert db.execute(text("SELECT count(*) FROM api_tokens")).scalar_one() == 2
        with engine.connect() as connection:
            tables = connection.execute(
                text("SELECT count(*) FROM information_schema.tables WHERE table_name = "
                     "'collector_tokens' AND table_schema = current_schema()")
                if engine.dialect.name == "postgresql"
                else text("SELECT count(*) FROM sqlite_master WHERE name = 'collector_tokens'")
            ).scalar_one()  # fmt: skip
            assert tables == 0
    finally:
        engine.dispose()


def test_tokens01_downgrade_gives_collector_tokens_back(settings: Settings) -> None:
    migrate(settings)
    engine = create_db_engine(settings)
    clock = FrozenClock(datetime(2026, 12, 1, tzinfo=UTC))
    try:
        with unit_of_work(create_session_factory(engine)) as db:
            secret = create_token(
                db=db, username=None, name="zs", scopes=["ingest"], source="zaaksysteem",
                clock=clock, actor="t",
            ).token  # fmt: skip
        with engine.begin() as connection:
            command.downgrade(alembic_config(settings, connection), "ldv01")
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT source, token_sha256 FROM collector_tokens")
            ).all()
            assert [tuple(row) for row in rows] == [
                ("zaaksysteem", hashlib.sha256(secret.encode()).hexdigest())
            ]
            assert connection.execute(text("SELECT count(*) FROM api_tokens")).scalar_one() == 0
        migrate(settings)
        with unit_of_work(create_session_factory(engine)) as db:
            identity = verify_token(db=db, token=secret, clock=clock)
            assert identity.source == "zaaksysteem" and identity.user is None
    finally:
        engine.dispose()
