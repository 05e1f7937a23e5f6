"""Rank topics by what detection saw: rule tags (ATT&CK techniques) mapped to topics.

Only tag counts come in (detection.service.alert_tag_counts), so no incident detail or personal
data can reach a bulletin; the ranking shows a level (high, some, none), never a count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# ATT&CK technique (or other rule tag) -> topics it makes more urgent, most relevant first.
TAG_TOPICS: Mapping[str, tuple[str, ...]] = {
    "attack.t1566": ("phishing", "municipality-message"),  # phishing
    "attack.t1598": ("phishing",),  # phishing for information
    "attack.t1204": ("phishing", "updates"),  # user execution of a lure
    "attack.t1656": ("whatsapp-bank-fraud", "municipality-message"),  # impersonation
    "attack.t1110": ("passphrases", "two-step-login"),  # brute force, credential stuffing
    "attack.t1078": ("two-step-login", "passphrases"),  # valid accounts
    "attack.t1621": ("two-step-login",),  # MFA request generation
    "attack.t1555": ("passphrases",),  # credentials from password stores
    "attack.t1486": ("ransomware", "backups"),  # data encrypted for impact
    "attack.t1490": ("backups", "ransomware"),  # inhibit system recovery (shadow copies)
    "attack.t1489": ("ransomware",),  # service stop
    "attack.t1562": ("ransomware", "updates"),  # impair defenses
    "attack.t1190": ("updates",),  # exploit public-facing application
    "attack.t1203": ("updates",),  # exploitation for client execution
    "attack.t1068": ("updates",),  # exploitation for privilege escalation
    "attack.t1557": ("public-wifi",),  # adversary-in-the-middle
    "attack.t1040": ("public-wifi",),  # network sniffing
    "attack.t1589": ("social-privacy",),  # gather victim identity information
    "attack.t1593": ("social-privacy",),  # search open websites and social media
}
HIGH_SHARE = 0.25  # a topic with at least this share of all signal is "seen often"


@dataclass(frozen=True)
class RankedTopic:
    """A topic's place in the bulletin and how strongly detection pointed at it."""

    topic_id: str
    score: float
    level: str  # "high", "some" or "none"


def _topics_for(tag: str) -> tuple[str, ...]:
    """Topics of a tag; sub-techniques (attack.t1110.004) count for their technique."""
    tag = tag.lower()
    while tag:
        if tag in TAG_TOPICS:
            return TAG_TOPICS[tag]
        if "." not in tag.removeprefix("attack."):
            return ()
        tag = tag.rsplit(".", 1)[0]
    return ()


def rank_topics(*, tag_counts: Mapping[str, int], topic_ids: Sequence[str]) -> list[RankedTopic]:
    """Topics by detection signal, strongest first; quiet topics keep their authored order.

    The help topic (the "noodknop") always closes the list.
    """
    scores = dict.fromkeys(topic_ids, 0.0)
    for tag, count in tag_counts.items():
        related = [t for t in _topics_for(tag) if t in scores]
        for rank, topic_id in enumerate(related):
            scores[topic_id] += count / (rank + 1)  # the first topic of a tag weighs most
    total = sum(scores.values()) or 1.0
    order = {topic_id: index for index, topic_id in enumerate(topic_ids)}
    ranked = sorted(topic_ids, key=lambda t: (t == "help", -scores[t], order[t]))
    return [
        RankedTopic(
            topic_id=t,
            score=scores[t],
            level="high" if scores[t] / total >= HIGH_SHARE else "some" if scores[t] else "none",
        )
        for t in ranked
    ]
