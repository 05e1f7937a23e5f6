"""Breaches of the Logboek Dataverwerkingen rules (S33-S35): a chain partner outside its
agreement, one record for a batch of residents, an activity the register does not know."""

from __future__ import annotations

from demo_world import formats as fmt
from demo_world import ldv
from demo_world.scenarios.context import Ctx


def partner_outside_agreement(ctx: Ctx) -> None:
    """WIJ Groningen asks the tax system for a resident's assessment: not agreed with WIJ."""
    trace, span = ldv.ids(ctx.rng)
    foreign_trace, foreign_span = ldv.ids(ctx.rng)
    ctx.write(
        fmt.ldv_record, ctx.start, trace=trace, span=span, name="aanslag inzien",
        system=ldv.TAX_SYSTEM, activity=ldv.ACT_TAX, subject=ctx.resident().bsn, duration_ms=70,
        foreign=(foreign_trace, foreign_span, ldv.WIJ),
    )  # fmt: skip


def bulk_record(ctx: Ctx) -> None:
    """The tax system logs a batch run over 1,800 residents as a single record."""
    trace, span = ldv.ids(ctx.rng)
    ctx.write(
        fmt.ldv_record, ctx.start, trace=trace, span=span, name="aanslagen batch",
        system=ldv.TAX_SYSTEM, activity=ldv.ACT_TAX,
        subject=[ctx.resident().bsn for _ in range(3)], duration_ms=45_000,
        extra={"belastingen.record_count": 1800},
    )  # fmt: skip


def unregistered_activity(ctx: Ctx) -> None:
    """A new release of the case system logs a version of its activity not yet registered."""
    trace, span = ldv.ids(ctx.rng)
    ctx.write(
        fmt.ldv_record, ctx.start, trace=trace, span=span, name="wmo-aanvraag beoordelen",
        system=ldv.CASE_SYSTEM, activity=ldv.ACT_UNREGISTERED, subject=ctx.resident().bsn,
        duration_ms=800,
    )  # fmt: skip
