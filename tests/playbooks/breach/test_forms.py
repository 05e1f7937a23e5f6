"""The report forms loaded from forms/*.yml: the same questions the Python tuples held."""

from __future__ import annotations

import itertools

import pytest

from playbooks.breach import ap_notification, form_specs, nis2
from playbooks.breach.reports import Content, FieldSpec

# Every answer a condition of the forms looks at, in every combination (and unanswered).
_CONDITIONS = {
    "melding.soort": (None, "nieuwe melding", "vervolgmelding"),
    "tijdlijn.duurt_voort": (None, True, False),
    "maatregelen_vooraf.onleesbaar": (None, True, False),
    "vervolg.betrokkenen_geinformeerd": (None, "ja", "gepland", "nee"),
    "vervolg.grensoverschrijdend": (None, True, False),
}


def _contents() -> list[Content]:
    found = []
    for values in itertools.product(*_CONDITIONS.values()):
        content: Content = {}
        for path, value in zip(_CONDITIONS, values, strict=True):
            section, key = path.split(".")
            content.setdefault(section, {})[key] = value
        found.append(content)
    return found


def _facts(specs: tuple[FieldSpec, ...]) -> list[tuple[object, ...]]:
    contents = _contents()
    return [
        (s.section, s.key, s.label_nl, s.label_en, s.kind, s.choices,
         tuple(s.is_required(c) for c in contents))
        for s in specs
    ]  # fmt: skip


def test_the_ap_form_file_holds_the_python_tuple() -> None:
    loaded = form_specs.form("ap_notification")
    assert len(loaded) == len(ap_notification.SPECS) == 38
    assert _facts(loaded) == _facts(ap_notification.SPECS)


@pytest.mark.parametrize("kind", ["nis2_early_warning", "nis2_notification", "nis2_final"])
def test_the_nis2_form_files_hold_the_python_tuples(kind: str) -> None:
    loaded = form_specs.form(kind)
    assert _facts(loaded) == _facts(nis2.SPECS[kind])
