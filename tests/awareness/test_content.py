"""Content gates: loads cleanly, lint is clean, every Dutch text is B1, errors are located."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from awareness.adapt import topic_view
from awareness.errors import ContentError
from awareness.lint import MissingTranslation, lint_library
from awareness.loader import Library, load_library
from awareness.readability import B1_MAX_WORDS_PER_SENTENCE, measure, syllables
from awareness.schemas import AUDIENCES

TOPICS = (
    "phishing", "whatsapp-bank-fraud", "passphrases", "two-step-login", "updates", "backups",
    "ransomware", "public-wifi", "social-privacy", "municipality-message", "help",
)  # fmt: skip
CONTENT = Path(__file__).resolve().parents[2] / "awareness"

B1_TEXT = (
    "Krijgt u een sms van de bank? Klik dan niet op de link. Bel de bank zelf. "
    "Gebruik het nummer op uw pas. Een bank vraagt nooit om uw pincode."
)
# Our own paragraph in the style of a legal text (AVG/GDPR), to show the metric tells them apart.
LEGAL_TEXT = (
    "Onverminderd het bepaalde in het voorgaande lid draagt de verwerkingsverantwoordelijke, "
    "rekening houdend met de aard, de omvang, de context en de verwerkingsdoeleinden alsmede "
    "met de qua waarschijnlijkheid en ernst uiteenlopende risico's voor de rechten en vrijheden "
    "van natuurlijke personen, zorg voor de implementatie van passende technische en "
    "organisatorische maatregelen teneinde te waarborgen en te kunnen aantonen dat de "
    "verwerking in overeenstemming met deze verordening wordt uitgevoerd."
)


def test_every_topic_of_the_issue_is_shipped(library: Library) -> None:
    assert {topic.id for topic in library.topics} == set(TOPICS)
    assert set(library.audiences) == set(AUDIENCES)


def test_lint_finds_no_issues(library: Library) -> None:
    issues = lint_library(library)
    assert not issues, "\n".join(map(str, issues))


@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("topic_id", TOPICS)
def test_dutch_text_meets_b1(library: Library, topic_id: str, audience: str) -> None:
    view = topic_view(library=library, topic_id=topic_id, audience=audience, lang="nl")
    score = measure(view.texts())
    assert score.flesch_douma >= 60, score
    assert score.words_per_sentence <= B1_MAX_WORDS_PER_SENTENCE, score


def test_flesch_douma_separates_b1_from_legal_text() -> None:
    b1, legal = measure(B1_TEXT), measure(LEGAL_TEXT)
    assert b1.meets_b1 and b1.flesch_douma > 80
    assert not legal.meets_b1 and legal.flesch_douma < 30
    assert legal.words_per_sentence > 40


@pytest.mark.parametrize(
    ("word", "expected"),
    [("wachtwoord", 2), ("fraudehelpdesk", 4), ("politie", 3), ("nieuw", 1), ("mooi", 1),
     ("bioscoop", 3), ("ideeën", 3), ("uitleggen", 3), ("eeuw", 1), ("gemeente", 3)],
)  # fmt: skip
def test_dutch_syllables(word: str, expected: int) -> None:
    assert syllables(word) == expected


@pytest.mark.parametrize("audience", AUDIENCES)
def test_form_of_address_is_consistent_per_audience(library: Library, audience: str) -> None:
    profile = library.audiences[audience]  # type: ignore[index]
    wrong = r"\b(je|jij|jouw)\b" if profile.address == "u" else r"\b(u|uw)\b"
    for topic in library.topics:
        view = topic_view(library=library, topic_id=topic.id, audience=audience, lang="nl")
        for text in view.texts():
            unquoted = re.sub(r"'[^']*'", "", text)  # quoted fraudster messages say anything
            assert not re.search(wrong, unquoted, re.IGNORECASE), (topic.id, text)
            assert "{" not in text, (topic.id, text)


def test_no_missing_translation_is_reported_for_an_empty_side(
    library: Library, tmp_path: Path
) -> None:
    _copy_content(tmp_path)
    path = tmp_path / "topics" / "updates.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            'en: "Switch on automatic updates on all your devices."', 'en: ""'
        ),
        encoding="utf-8",
    )
    issues = MissingTranslation().check(
        load_library(tmp_path).topic("updates"),  # type: ignore[arg-type]
        load_library(tmp_path),
    )
    assert [issue.field for issue in issues] == ["tips[0].en"]
    assert issues[0].source == str(path) and issues[0].message.startswith("[missing-translation]")
    line = path.read_text(encoding="utf-8").splitlines()[(issues[0].line or 0) - 1]
    assert line.strip() == 'en: ""'  # the lint finding points at the empty translation


def test_load_errors_name_file_line_and_field(tmp_path: Path) -> None:
    _copy_content(tmp_path)
    path = tmp_path / "topics" / "backups.yml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("order: 6", "order: zes").replace(
        "    kind: official-secondary", "    kind: blog", 1
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_library(tmp_path)
    messages = [str(problem) for problem in caught.value.problems]
    lines = text.splitlines()
    order_line = next(i for i, line in enumerate(lines, 1) if line.startswith("order:"))
    kind_line = next(i for i, line in enumerate(lines, 1) if "kind: blog" in line)
    assert any(m.startswith(f"{path}:{order_line}: order:") for m in messages), messages
    assert any(m.startswith(f"{path}:{kind_line}: sources[0].kind:") for m in messages), messages


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    _copy_content(tmp_path)
    path = tmp_path / "topics" / "help.yml"
    path.write_text("id: help\norder: [1\n", encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_library(tmp_path)
    assert caught.value.problems[0].source == str(path)
    assert caught.value.problems[0].line is not None


def _copy_content(target: Path) -> None:
    (target / "topics").mkdir()
    for name in ("audiences.yml", "labels.yml"):
        (target / name).write_text((CONTENT / name).read_text(encoding="utf-8"), encoding="utf-8")
    for path in (CONTENT / "topics").glob("*.yml"):
        (target / "topics" / path.name).write_text(
            path.read_text(encoding="utf-8"), encoding="utf-8"
        )
