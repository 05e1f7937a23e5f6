"""Ingest enrichment: answer the questions Sigma cannot ask, as documented event fields.

Runs between parse and spool: ``event = enricher.enrich(event)``. Stateless lookups come from
the context tables (``collectors.context``); two small stateful checks keep bounded per-key
memory in the enricher:

- impossible travel: the last successful portal login per account (time and place); a login
  too far away too soon (``IMPOSSIBLE_KM`` at over ``IMPOSSIBLE_KMH``) is flagged;
- session reuse: the first client (user agent, country) per portal session id; a later request
  of the same session from a different client is flagged.

Both states live in memory only (LRU-capped): after a restart the first login per account and
the first request per session are the new baseline, so a restart can hide one hop but never
raises a false alarm. Events are expected roughly in time order per account; an older event
than the one remembered does not move the state back.

Every field written is listed in docs/ecs-extension.md. A question that cannot be answered (no
employee row, no role table, no subject) leaves its field absent rather than guessing, so
rules testing ``false`` fire only on a definite "no".
"""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import datetime
from typing import Any

from collectors.context import ContextTables
from core.events import Event, get_field, set_field

IMPOSSIBLE_KM = 500.0  # below this, geo tables are too coarse to judge
IMPOSSIBLE_KMH = 900.0  # faster than an airliner
MAX_TRACKED = 200_000  # accounts / sessions remembered by the stateful checks
AUDIT_PREFIX = "app_audit."
LDV_PREFIX = "ldv."
LDV_CHECK_DATASET = "ldv.stream_check"  # the stream check's own results, not processing records
LOGIN_DATASET = "portal.auth"
SESSION_DATASETS = frozenset({"portal.auth", "portal.forms"})
MAIL_DATASET = "mail.audit"


def enrich(event: Event, context: ContextTables) -> Event:
    """Stateless enrichment from the context tables; returns the same (mutated) event."""
    dataset = str(get_field(event, "event.dataset") or "")
    source_ip = get_field(event, "source.ip")
    if isinstance(source_ip, str):
        _source(event, source_ip, context)
    if dataset.startswith(AUDIT_PREFIX):
        _audit(event, context)
    elif dataset.startswith(LDV_PREFIX) and dataset != LDV_CHECK_DATASET:
        if get_field(event, "user.id") is not None:
            # A NEN 7513 user: who looked at whom, the app-audit questions. Core LDV records
            # name no user (by design), and the questions are about the actor: skipped.
            _audit(event, context)
        _ldv(event, context)
    if dataset == MAIL_DATASET:
        _mail(event, context)
    name = get_field(event, "dns.question.name")
    if isinstance(name, str) and get_field(event, "dns.question.registered_domain") is None:
        labels = name.rstrip(".").lower().split(".")
        if len(labels) >= 2:
            # Without a public-suffix list (no network) the last two labels are the best guess.
            set_field(event, "dns.question.registered_domain", ".".join(labels[-2:]))
    return event


class Enricher:
    """The enrichment hook: context lookups plus the stateful travel and session checks."""

    def __init__(self, *, context: ContextTables, max_tracked: int = MAX_TRACKED) -> None:
        self.context = context
        self._max = max_tracked
        self._logins: OrderedDict[str, tuple[float, float, float]] = OrderedDict()
        self._sessions: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def replace_context(self, context: ContextTables) -> None:
        """Swap in refreshed tables; the stateful memory is kept (it is not context)."""
        self.context = context

    def enrich(self, event: Event) -> Event:
        """Enrich one parsed event in place and return it."""
        enrich(event, self.context)
        dataset = get_field(event, "event.dataset")
        if dataset in SESSION_DATASETS:
            self._session(event)
        if dataset == LOGIN_DATASET:
            self._travel(event)
        return event

    def _travel(self, event: Event) -> None:
        if get_field(event, "event.action") != "login":
            return
        if get_field(event, "event.outcome") != "success":
            return
        account, point = get_field(event, "user.id"), get_field(event, "source.geo.location")
        moment = _seconds(event)
        if not isinstance(account, str) or not isinstance(point, list) or moment is None:
            return
        lon, lat = point
        previous = self._logins.get(account)
        if previous is not None and moment >= previous[0]:
            km = _distance_km(previous[1], previous[2], float(lat), float(lon))
            hours = max((moment - previous[0]) / 3600.0, 1 / 60)  # a minute at least
            speed = km / hours
            set_field(event, "dijkwacht.auth.travel_speed_kmh", int(speed))
            set_field(
                event,
                "dijkwacht.auth.impossible_travel",
                km >= IMPOSSIBLE_KM and speed > IMPOSSIBLE_KMH,
            )
        if previous is None or moment >= previous[0]:
            self._remember(self._logins, account, (moment, float(lat), float(lon)))

    def _session(self, event: Event) -> None:
        session = get_field(event, "dijkwacht.session.id")
        if not isinstance(session, str) or not session:
            return
        client = (
            str(get_field(event, "user_agent.original") or ""),
            str(get_field(event, "source.geo.country_iso_code") or ""),
        )
        first = self._sessions.get(session)
        if first is None:
            self._remember(self._sessions, session, client)
            set_field(event, "dijkwacht.session.client_changed", False)
            return
        self._sessions.move_to_end(session)
        set_field(event, "dijkwacht.session.client_changed", client != first)

    def _remember(self, table: OrderedDict[str, Any], key: str, value: Any) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self._max:
            table.popitem(last=False)


def _source(event: Event, ip: str, context: ContextTables) -> None:
    if len(context.anonymising):
        flagged = context.anonymising.lookup(ip) is not None
        set_field(event, "dijkwacht.source.anonymising_network", flagged)
    if get_field(event, "source.geo.country_iso_code") is None:
        place = context.geo.lookup(ip)
        if place is not None:
            set_field(event, "source.geo.country_iso_code", place.country)
            if place.city:
                set_field(event, "source.geo.city_name", place.city)
            # [lon, lat] (GeoJSON order): an ECS geo_point Elasticsearch accepts as is.
            set_field(event, "source.geo.location", [place.lon, place.lat])


def _audit(event: Event, context: ContextTables) -> None:
    """Who looked at whom, and were they allowed to: the privacy rules' questions."""
    actor = get_field(event, "user.id")
    employee = context.employees.get(actor) if isinstance(actor, str) else None
    if context.employees:
        state = employee.state if employee is not None else "unknown"
        set_field(event, "dijkwacht.actor.account_state", state)
    roles = get_field(event, "user.roles") or (
        [employee.role] if employee and employee.role else []
    )
    record_type = get_field(event, "dijkwacht.subject.record_type")
    known = [r for r in roles if r in context.role_record_types]
    if isinstance(record_type, str) and known:
        permitted = any(record_type in context.role_record_types[r] for r in known)
        set_field(event, "dijkwacht.actor.role_permits_record_type", permitted)
    moment = _moment(event)
    if moment is not None:
        set_field(
            event, "dijkwacht.time.outside_office_hours", context.office_hours.outside(moment)
        )
    subject = get_field(event, "dijkwacht.subject.pseudonym")
    if not isinstance(subject, str):
        return
    set_field(event, "dijkwacht.subject.protected", subject in context.protected)
    if isinstance(actor, str):
        set_field(event, "dijkwacht.case.open_for_subject", (actor, subject) in context.open_cases)
    colleague = context.employee_by_subject.get(subject)
    if context.employees:
        set_field(event, "dijkwacht.subject.is_colleague", colleague not in (None, actor))
    if employee is None or subject == employee.subject:
        return
    surname, address = context.residents.get(subject, (None, None))
    if address is not None and employee.address_key is not None:
        set_field(event, "dijkwacht.subject.same_address_as_actor", address == employee.address_key)
    if surname is not None and employee.surname_key is not None:
        set_field(event, "dijkwacht.subject.same_surname_as_actor", surname == employee.surname_key)


def _ldv(event: Event, context: ContextTables) -> None:
    """Logboek Dataverwerkingen checks: the activity against the processing register, the
    calling partner against the activities agreed with it."""
    if not context.ldv_activities and not context.ldv_partners:
        return  # nothing to check against (no register or partner list published)
    activity = get_field(event, "dijkwacht.ldv.processing_activity_id")
    if context.ldv_activities and isinstance(activity, str):
        known = context.ldv_activities.get(activity)
        set_field(event, "dijkwacht.ldv.activity.registered", known is not None)
        if known is not None:
            retired, requires_subject = known
            set_field(event, "dijkwacht.ldv.activity.retired", retired)
            set_field(event, "dijkwacht.ldv.activity.requires_subject", requires_subject)
            count = get_field(event, "dijkwacht.ldv.subject_count") or 0
            set_field(event, "dijkwacht.ldv.subject_missing", requires_subject and count == 0)
    entity = get_field(event, "dijkwacht.ldv.foreign_operation.entity")
    if context.ldv_partners and isinstance(entity, str):
        partner = context.ldv_partners.get(entity)
        if partner is not None:
            set_field(event, "dijkwacht.ldv.partner.name", partner[0])
        set_field(
            event, "dijkwacht.ldv.partner.agreed", partner is not None and activity in partner[1]
        )


def _mail(event: Event, context: ContextTables) -> None:
    target = get_field(event, "email.to.address")
    if not context.mail_domains or target is None:
        return
    targets = target if isinstance(target, list) else [target]
    domains = {str(t).rsplit("@", 1)[-1].lower() for t in targets}
    external = any(
        not any(d == own or d.endswith("." + own) for own in context.mail_domains) for d in domains
    )
    set_field(event, "dijkwacht.mail.forward_external", external)


def _moment(event: Event) -> datetime | None:
    value = get_field(event, "@timestamp")
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _seconds(event: Event) -> float | None:
    moment = _moment(event)
    return moment.timestamp() if moment is not None else None


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), good enough at city resolution."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))
