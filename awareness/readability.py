"""Readability of Dutch text: Flesch–Douma with a Dutch syllable counter.

The B1 target (docs/awareness.md): Flesch–Douma >= 60 and on average at most 15 words per
sentence. B1 itself is loosely defined (regulations.md 6.1), so this is a gate against drift
into officialese, not proof of understanding; user tests remain the real check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

B1_MIN_SCORE = 60.0
B1_MAX_WORDS_PER_SENTENCE = 15.0

# Longest first: a trigraph such as "aai" is one vowel sound, not "aa" + "i".
_VOWEL_UNITS = (
    "aai", "ooi", "oei", "eeu", "ieu",
    "ij", "ei", "ui", "oe", "ou", "au", "eu", "ie", "aa", "ee", "oo", "uu",
)  # fmt: skip
_VOWELS = set("aeiouyáéíóúàèëïöüâêîôû")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?]['’\"”])\s+|\n+")
_WORD = re.compile(r"[^\s]+")
_LETTERS = re.compile(r"[a-záéíóúàèëïöüâêîôûç]+")


def syllables(word: str) -> int:
    """Syllables of one Dutch word: its vowel units (diphthongs and long vowels count once)."""
    word = word.lower()
    if "@" in word or "://" in word or word.startswith("www.") or not _LETTERS.search(word):
        return 1  # addresses and numbers are read as one unit
    count = 0
    for part in _LETTERS.findall(word):
        index = 0
        while index < len(part):
            unit = next((u for u in _VOWEL_UNITS if part.startswith(u, index)), None)
            if unit is not None:
                count += 1
                index += len(unit)
            elif part[index] in _VOWELS:
                count += 1
                index += 1
            else:
                index += 1
    return max(count, 1)


def sentences(text: str) -> list[str]:
    """Sentences of ``text``; a line break also ends one (list items are sentences)."""
    return [part.strip() for part in _SENTENCE_END.split(text) if _WORD.search(part or "")]


@dataclass(frozen=True)
class Readability:
    """Counts and the Flesch–Douma score of a text."""

    sentences: int
    words: int
    syllables: int

    @property
    def words_per_sentence(self) -> float:
        return self.words / self.sentences if self.sentences else 0.0

    @property
    def syllables_per_word(self) -> float:
        return self.syllables / self.words if self.words else 0.0

    @property
    def flesch_douma(self) -> float:
        """206.835 − 0.93 × words/sentence − 77 × syllables/word (Douma's Dutch Flesch)."""
        return 206.835 - 0.93 * self.words_per_sentence - 77 * self.syllables_per_word

    @property
    def meets_b1(self) -> bool:
        """Whether the text meets the documented B1 target."""
        return (
            self.flesch_douma >= B1_MIN_SCORE
            and self.words_per_sentence <= B1_MAX_WORDS_PER_SENTENCE
        )


def measure(texts: str | Iterable[str]) -> Readability:
    """Readability of one text or of several (each one or more sentences)."""
    parts = [texts] if isinstance(texts, str) else list(texts)
    n_sentences = n_words = n_syllables = 0
    for part in parts:
        for sentence in sentences(part):
            words = [w for w in _WORD.findall(sentence) if re.search(r"\w", w)]
            if not words:
                continue
            n_sentences += 1
            n_words += len(words)
            n_syllables += sum(syllables(word) for word in words)
    return Readability(n_sentences, n_words, n_syllables)
