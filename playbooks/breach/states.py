"""The breach state machine: which step may follow which, and why the others may not.

registered ──> assessing ──> no_notification ──> closed
    │             │  ^  └──> notification_due ──> notified ──> closed
    └─> not_a_breach ─┘ (reopen)        └── reassess ──┘
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import ConflictError


class State(StrEnum):
    """Where a breach is in the workflow."""

    REGISTERED = "registered"  # in the register, awaiting assessment
    ASSESSING = "assessing"  # risk assessment under way
    NOT_A_BREACH = "not_a_breach"  # investigation showed no personal-data breach
    NO_NOTIFICATION = "no_notification"  # DPO decided: unlikely to result in a risk
    NOTIFICATION_DUE = "notification_due"  # DPO decided to notify; AP report being drafted
    NOTIFIED = "notified"  # the AP notification is final
    CLOSED = "closed"  # handled; the register entry stays


TRANSITIONS: dict[State, frozenset[State]] = {
    State.REGISTERED: frozenset({State.ASSESSING, State.NOT_A_BREACH}),
    State.ASSESSING: frozenset({State.NOT_A_BREACH, State.NO_NOTIFICATION, State.NOTIFICATION_DUE}),
    State.NOT_A_BREACH: frozenset({State.ASSESSING, State.CLOSED}),
    State.NO_NOTIFICATION: frozenset({State.ASSESSING, State.CLOSED}),
    State.NOTIFICATION_DUE: frozenset({State.ASSESSING, State.NOTIFIED}),
    State.NOTIFIED: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}

_DECISIONS = (State.NO_NOTIFICATION, State.NOTIFICATION_DUE, State.NOTIFIED)

# Reasons for refusals people are likely to try; everything else gets the generic reason.
_REASONS: dict[tuple[State, State], str] = {
    (State.ASSESSING, State.NOTIFIED): "the DPO must first decide to notify (notification_due)",
    (State.NO_NOTIFICATION, State.NOTIFIED): (
        "the DPO decided not to notify; reassess (assessing) and decide again first"
    ),
    (State.NO_NOTIFICATION, State.NOTIFICATION_DUE): (
        "a new decision needs a new assessment; reassess (assessing) first"
    ),
    (State.NOTIFICATION_DUE, State.NO_NOTIFICATION): (
        "a new decision needs a new assessment; reassess (assessing) first"
    ),
    (State.NOTIFICATION_DUE, State.CLOSED): (
        "the AP notification is still due; finalise it (notified) or reassess first"
    ),
    (State.NOTIFIED, State.ASSESSING): (
        "the AP has been notified; send a follow-up notification instead of reassessing"
    ),
    (State.NOTIFIED, State.NO_NOTIFICATION): (
        "the AP has been notified; withdraw it with a follow-up notification instead"
    ),
    (State.NOTIFIED, State.NOTIFICATION_DUE): (
        "the AP has been notified; further facts go in a follow-up notification"
    ),
    (State.ASSESSING, State.CLOSED): "decide first (no notification, notify, or not a breach)",
    (State.REGISTERED, State.CLOSED): "assess the breach or mark it as not a breach first",
}


class IllegalTransition(ConflictError):
    """A step the workflow does not allow; `reason` says why in words the DPO understands."""

    def __init__(self, current: State, target: State, reason: str) -> None:
        super().__init__(f"state: cannot go from {current} to {target}: {reason}")
        self.current = current
        self.target = target
        self.reason = reason


def refusal(current: State, target: State) -> str | None:
    """Why `current -> target` is not allowed, or None when it is a legal step."""
    if target in TRANSITIONS[current]:
        return None
    if current == target:
        return f"the breach is already {current}"
    if current == State.CLOSED:
        return "a closed breach is final; register a new breach for new facts"
    if target == State.REGISTERED:
        return "a breach never returns to registered; reassess it instead"
    if current == State.REGISTERED and target in _DECISIONS:
        return "assess the risk first: every decision rests on an assessment"
    if (current, target) in _REASONS:
        return _REASONS[(current, target)]
    allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing"
    return f"not a step of the workflow; from {current} the next step is one of: {allowed}"


def check_transition(current: State | str, target: State | str) -> None:
    """Raise IllegalTransition when `current -> target` is not a legal step."""
    now, then = State(current), State(target)
    reason = refusal(now, then)
    if reason is not None:
        raise IllegalTransition(now, then, reason)
