"""The report forms as data: forms/*.yml give the questions; a broken file is a located problem.

The files were checked question by question against the Python tuples they replaced (commit
"Breach report forms as data"); these tests hold the key facts of each form.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from playbooks.breach import form_specs
from playbooks.breach.form_specs import FormError, check_form_file, form, load_form

NIS2_COMMON = [
    "entiteit.organisatie", "entiteit.verantwoordelijke_naam", "entiteit.verantwoordelijke_email",
    "entiteit.verantwoordelijke_telefoon",
]  # fmt: skip


def test_the_ap_form_has_its_questions_in_order_with_both_labels() -> None:
    specs = form("ap_notification")
    assert len(specs) == 38
    paths = [spec.path for spec in specs]
    assert paths[:3] == ["melding.wet", "melding.soort", "melding.eerdere_melding"]
    assert paths[-2:] == ["overig.overig", "overig.reden_vertraging"]
    assert all(spec.label_nl.strip() and spec.label_en.strip() for spec in specs)
    assert [s.path for s in specs if not s.is_required({}) and s.required_when is None] == [
        "overig.overig",
        "overig.reden_vertraging",
    ]
    by_path = {spec.path: spec for spec in specs}
    assert by_path["vervolg.betrokkenen_geinformeerd"].choices == ("ja", "gepland", "nee")
    assert by_path["betrokkenen.aantal_max"].kind == "int"


def test_conditional_questions_follow_the_earlier_answer() -> None:
    by_path = {spec.path: spec for spec in form("ap_notification")}
    followup = by_path["melding.eerdere_melding"]
    assert not followup.is_required({"melding": {"soort": "nieuwe melding"}})
    assert followup.is_required({"melding": {"soort": "vervolgmelding"}})
    ended = by_path["tijdlijn.einde"]
    assert ended.is_required({"tijdlijn": {"duurt_voort": False}})
    assert not ended.is_required({"tijdlijn": {"duurt_voort": None}})
    assert not ended.is_required({"tijdlijn": {"duurt_voort": 0}})  # False by identity only
    assert by_path["vervolg.waarom_niet"].is_required(
        {"vervolg": {"betrokkenen_geinformeerd": "nee"}}
    )


def test_the_nis2_stages_share_their_first_questions() -> None:
    warning, notification, final = (form(name) for name in form_specs.NIS2_FORMS)
    assert (len(warning), len(notification), len(final)) == (8, 12, 11)
    assert [s.path for s in final][:4] == NIS2_COMMON
    assert [s.path for s in notification][: len(warning) - 1] == [s.path for s in warning][:-1]
    for specs in (warning, notification, final):
        assert specs[-1].path == "overig.reden_vertraging" and specs[-1].required is False
        assert all(spec.label_nl and spec.label_en for spec in specs)


def test_a_form_is_read_once_per_process() -> None:
    assert form("nis2_final") is form("nis2_final")


def test_an_unknown_form_is_refused() -> None:
    with pytest.raises(FormError, match="no such report form"):
        form("ap_withdrawal")


def test_every_shipped_form_file_is_clean() -> None:
    files = sorted(form_specs.FORMS_DIR.glob("*.yml"))
    assert [f.stem for f in files] == sorted([form_specs.AP_FORM, *form_specs.NIS2_FORMS])
    assert [str(issue) for f in files for issue in check_form_file(f)] == []


BROKEN = """\
form: broken
sections:
- name: melding
  fields:
  - key: soort
    label: {nl: Soort, en: Kind}
    kind: choice
  - key: wet
    label: {nl: Wet}
  - key: eerder
    label: {nl: Eerder, en: Earlier}
    required_when: {field: melding.later, equals: ja}
  - key: soort
    label: {nl: Nog eens, en: Again}
"""


def test_a_broken_form_gives_each_problem_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(BROKEN)
    specs, issues = load_form(path)
    assert specs is None
    assert [(i.line, i.field, i.message) for i in issues] == [
        (9, "sections[0].fields[1].label.en", "required field is missing")
    ]
    path.write_text(BROKEN.replace("label: {nl: Wet}", "label: {nl: Wet, en: Law}"))
    found = {(i.line, i.field, i.message) for i in load_form(path)[1]}
    assert found == {
        (7, "sections[0].fields[0].kind", "a choice field needs choices"),
        (
            12,
            "sections[0].fields[2].required_when.field",
            "'melding.later' is not an earlier field",
        ),
        (13, "sections[0].fields[3].key", "field 'melding.soort' occurs twice"),
    }


def test_a_condition_must_name_a_possible_answer(tmp_path: Path) -> None:
    path = tmp_path / "cond.yml"
    path.write_text(
        "form: cond\nsections:\n- name: a\n  fields:\n"
        "  - {key: b, label: {nl: B, en: B}, kind: bool}\n"
        "  - {key: c, label: {nl: C, en: C}, required_when: {field: a.b, equals: 'ja'}}\n"
    )
    assert [(i.line, i.field) for i in check_form_file(path)] == [
        (6, "sections[0].fields[1].required_when.equals")
    ]


def test_the_form_name_is_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "nis2_final.yml"
    path.write_text(
        "form: other\nsections:\n- name: a\n  fields:\n  - {key: b, label: {nl: B, en: B}}\n"
    )
    assert [(i.line, i.field) for i in check_form_file(path)] == [(1, "form")]
    path.write_text("form: [unclosed\n")
    assert [i.field for i in check_form_file(path)] == ["(yaml)"]
