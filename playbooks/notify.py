"""Notifications: e-mail over SMTP and HMAC-signed webhooks, rendered from Jinja2 templates.

A delivery row is written per channel target before anything is sent; the `playbooks.deliver`
task sends it, retries with back-off and finally marks it failed, visible on the timeline.
Incidents of an exercise are never sent anywhere: their deliveries are `suppressed (exercise)`.

Webhook signature: header `X-Dijkwacht-Timestamp` (Unix seconds) and
`X-Dijkwacht-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>`.
Receivers check the signature with `verify_signature` and refuse old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from core.errors import DijkwachtError, NotFoundError
from playbooks.incidents import get_incident, log
from playbooks.models import Delivery, Incident, RunStep
from playbooks.observables import observables_of

if TYPE_CHECKING:
    from playbooks.runs import Units

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
SIGNATURE_HEADER = "X-Dijkwacht-Signature"
TIMESTAMP_HEADER = "X-Dijkwacht-Timestamp"


class DeliveryFailed(DijkwachtError):
    """Sending failed this time; the task retries until the limit."""


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The template environment; HTML templates are autoescaped, text and JSON are not."""
    return Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )


def render(template: str, part: str, context: dict[str, Any]) -> str:
    """Render `notify/<template>.<part>.j2` (part: subject, txt, html, json)."""
    return environment().get_template(f"notify/{template}.{part}.j2").render(**context)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for a webhook body."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: float, tolerance: int = 300
) -> bool:
    """True when the signature matches and the timestamp is within `tolerance` seconds."""
    try:
        age = abs(now - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


def queue_step_deliveries(
    *, db: Session, clock: Clock, incident: Incident, step: RunStep
) -> list[int]:
    """Delivery rows for a notify/escalate step (no commit); ids of those to send."""
    spec = step.spec
    template = spec.get("template") or (
        "crisis_escalation" if step.kind == "escalate" else "incident_update"
    )
    targets = [("email", group) for group in spec.get("email_to", ())]
    targets += [("webhook", name) for name in spec.get("webhooks", ())]
    context = {"step": step.step_id}
    return queue_deliveries(
        db=db,
        clock=clock,
        incident=incident,
        targets=targets,
        template=template,
        key_prefix=f"step:{step.id}",
        run_step_id=step.id,
        context=context,
    )


def queue_deliveries(
    *,
    db: Session,
    clock: Clock,
    incident: Incident,
    targets: list[tuple[str, str]],
    template: str,
    key_prefix: str,
    run_step_id: int | None = None,
    context: dict[str, Any] | None = None,
) -> list[int]:
    """Write one delivery per (channel, target); exercise incidents are suppressed at once."""
    ids = []
    now = clock.now()
    for channel, target in targets:
        suppressed = incident.exercise_id is not None
        delivery = Delivery(
            key=f"{key_prefix}:{channel}:{target}",
            incident_id=incident.id,
            run_step_id=run_step_id,
            channel=channel,
            target=target,
            template=template,
            status="suppressed" if suppressed else "pending",
            attempts=0,
            last_error=None,
            created_at=now,
        )
        db.add(delivery)
        db.flush()
        action = "notification.suppressed" if suppressed else "notification.queued"
        log(
            db=db,
            clock=clock,
            incident_id=incident.id,
            actor="system",
            action=action,
            delivery_id=delivery.id,
            channel=channel,
            target=target,
            outcome="suppressed (exercise)" if suppressed else None,
            **(context or {}),
        )
        if not suppressed:
            ids.append(delivery.id)
    return ids


def _context(db: Session, incident: Incident, delivery: Delivery) -> dict[str, Any]:
    step_title = ""
    reason = ""
    if delivery.run_step_id is not None:
        step = db.get(RunStep, delivery.run_step_id)
        if step is not None:
            step_title = step.title
            reason = step.spec.get("reason", "")
    return {
        "incident": incident,
        "observables": observables_of(db=db, incident_id=incident.id),
        "step_title": step_title,
        "reason": reason,
    }


def send_mail(
    *,
    settings: Settings,
    recipients: list[str],
    subject: str,
    text: str,
    html: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Send one e-mail over the configured SMTP server; raises DeliveryFailed.

    The one SMTP path of the playbooks domain (incident notifications, breach reminders and
    letters), so every mail gets the same sender, timeout and error wording.
    """
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.smtp_sender
    message["To"] = ", ".join(recipients)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
        ) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}") from None


def _send_email(settings: Settings, delivery: Delivery, context: dict[str, Any]) -> str:
    recipients = settings.notify_recipients.get(delivery.target)
    if not recipients:
        raise DeliveryFailed(f"notify_recipients: no recipient group {delivery.target!r}")
    send_mail(
        settings=settings,
        recipients=recipients,
        subject=render(delivery.template, "subject", context).strip(),
        text=render(delivery.template, "txt", context),
        html=render(delivery.template, "html", context),
        headers={"X-Dijkwacht-Incident": str(delivery.incident_id)},
    )
    return f"{len(recipients)} recipient(s)"


def _send_webhook(
    settings: Settings, delivery: Delivery, context: dict[str, Any], clock: Clock
) -> str:
    hook = settings.webhooks.get(delivery.target)
    if hook is None:
        raise DeliveryFailed(f"webhooks: no webhook named {delivery.target!r}")
    body = json.dumps(json.loads(render(delivery.template, "json", context))).encode()
    timestamp = str(int(clock.now().timestamp()))
    request = urllib.request.Request(
        hook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(hook.secret.get_secret_value(), timestamp, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.smtp_timeout_seconds) as response:
            return f"HTTP {response.status}"
    except (urllib.error.URLError, OSError) as exc:
        # The URL may carry a token in its query: name the webhook, not the URL.
        raise DeliveryFailed(f"webhook {delivery.target!r}: {exc}") from None


def deliver(
    *, units: Units, clock: Clock, settings: Settings, delivery_id: int, final_attempt: bool
) -> Delivery:
    """Send one delivery and record its state. Raises DeliveryFailed unless this was the last try.

    Two units of work from `units`: reading (or suppressing) it, then recording the outcome;
    no transaction is held open while talking to the network.
    """
    with units() as db:
        delivery = db.get(Delivery, delivery_id)
        if delivery is None:
            raise NotFoundError(f"delivery {delivery_id} not found")
        if delivery.status in ("sent", "suppressed"):
            return delivery  # a repeated task: already done
        incident = get_incident(db=db, incident_id=delivery.incident_id)
        if incident.exercise_id is not None:  # belt and braces: never send drill data
            delivery.status = "suppressed"
            log(
                db=db,
                clock=clock,
                incident_id=incident.id,
                actor="system",
                action="notification.suppressed",
                delivery_id=delivery.id,
                outcome="suppressed (exercise)",
            )
            return delivery
        context = _context(db, incident, delivery)
    error: str | None = None
    try:
        if delivery.channel == "email":
            outcome = _send_email(settings, delivery, context)
        else:
            outcome = _send_webhook(settings, delivery, context, clock)
    except DeliveryFailed as exc:
        error = str(exc)
    with units() as db:
        delivery = db.get(Delivery, delivery_id)
        assert delivery is not None
        delivery.attempts += 1
        if error is None:
            delivery.status = "sent"
            delivery.sent_at = clock.now()
            delivery.last_error = None
            details: dict[str, Any] = {"outcome": outcome}
            action = "notification.sent"
        else:
            delivery.last_error = error
            delivery.status = "failed" if final_attempt else "retrying"
            details = {"error": error, "attempt": delivery.attempts}
            action = "notification.failed" if final_attempt else "notification.retrying"
        log(
            db=db,
            clock=clock,
            incident_id=delivery.incident_id,
            actor="system",
            action=action,
            delivery_id=delivery.id,
            channel=delivery.channel,
            target=delivery.target,
            **details,
        )
    if error is not None and not final_attempt:
        raise DeliveryFailed(error)
    return delivery


def deliveries_of(*, db: Session, incident_id: int) -> list[Delivery]:
    """The incident's notifications and their state (failed ones are shown to the analyst)."""
    return list(
        db.scalars(
            select(Delivery).where(Delivery.incident_id == incident_id).order_by(Delivery.id)
        )
    )
