"""`dijkwacht breach letters --subjects` and `breach identify`: letters to the affected residents
from the command line, the BSN read from stdin and verified, never stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.accounts.models import Role
from core.accounts.service import create_user
from core.clock import SystemClock
from core.config import get_settings
from core.privacy import service as privacy
from core.privacy.service import Pseudonymiser
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from dijkwacht.cli import app
from playbooks import service as playbooks
from playbooks.breach import service as breach

BSN = "111222333"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(path))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    return path


def _run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["breach", *args], input=stdin)
    return result.exit_code, " ".join(result.output.split())  # rich wraps long lines


def test_letters_to_the_affected_residents_from_the_command_line(
    data_dir: Path, tmp_path: Path
) -> None:
    settings = get_settings()
    migrate(settings)
    clock = SystemClock()
    pseudonym = Pseudonymiser(settings.secret("pseudonym_key").encode("utf-8")).pseudonym(BSN)
    engine = create_db_engine(settings)
    try:
        with unit_of_work(create_session_factory(engine)) as db:
            for name, role in (("fg", Role.DPO), ("fg2", Role.DPO), ("im", Role.INCIDENT_MANAGER)):
                create_user(db=db, username=name, password="x" * 16, role=role, clock=clock)
            incident = playbooks.create_incident(
                db=db, clock=clock, title="Inzage zonder zaak", severity="high", actor="ali"
            )
            playbooks.add_observable(
                db=db, clock=clock, incident_id=incident.id, kind="pseudonym", value=pseudonym,
                actor="ali",
            )  # fmt: skip
            opened = breach.open_for_incident(
                db=db, clock=clock, settings=settings, actor="fg", incident_id=incident.id
            )
            breach.start_assessment(db=db, clock=clock, actor="fg", breach_id=opened.id)
            breach.record_assessment(
                db=db, clock=clock, actor="fg", breach_id=opened.id,
                answers={"dpc_base": 4, "ease_of_identification": "maximum",
                         "loss_of_confidentiality": 2, "nature_sensitivity_volume": "BRP",
                         "severity_of_consequences": "Ernstig", "number_of_individuals": 1},
            )  # fmt: skip
        code, out = _run("decide", str(opened.id), "notify_ap_and_subjects", "--as", "fg",
                         "--reason", "Hoog risico")  # fmt: skip
        assert code == 0, out
        texts = tmp_path / "texts.json"
        letter_texts = {
            lang: {k: f"{k} ({lang})" for k in breach.LETTER_TEXT_KEYS} for lang in ("nl", "en")
        }
        texts.write_text(json.dumps(letter_texts))
        code, out = _run("letters", str(opened.id), "--as", "fg", "--texts", str(texts))
        assert code == 2 and "either --recipients CSV or --subjects" in out
        code, out = _run(
            "letters", str(opened.id), "--as", "fg", "--texts", str(texts), "--subjects", "all"
        )
        assert code == 0, out
        assert pseudonym in out and "S-001" in out
        batch_id = int(out.rsplit("letter batch ", 1)[1].split()[0])
        recipient_id = out.split("recipient ", 1)[1].split()[0]
        identify = ("identify", str(batch_id), recipient_id, "--as", "fg", "--name", "A. Jansen",
                    "--address", "Dijkweg 1", "--language", "nl")  # fmt: skip
        code, out = _run(*identify, stdin=BSN + "\n")
        assert code == 2 and "must approve it first" in out
        with unit_of_work(create_session_factory(engine)) as db:
            request = privacy.latest_request_for(db=db, pseudonym=pseudonym)
            assert request is not None
            for name, role in (("fg2", Role.DPO), ("im", Role.INCIDENT_MANAGER)):
                privacy.approve(
                    db=db, request_id=request.id, actor=name, actor_role=role, clock=clock
                )
        code, out = _run(*identify, stdin="123456782\n")
        assert code == 2 and "not the resident behind the pseudonym" in out
        assert "123456782" not in out
        code, out = _run(*identify, stdin=BSN + "\n")
        assert code == 0 and "identified (S-001)" in out, out
        code, out = _run("letters-approve", str(batch_id), "--as", "fg2")
        assert code == 0, out
        with unit_of_work(create_session_factory(engine), write=False) as db:
            request = privacy.latest_request_for(db=db, pseudonym=pseudonym)
            assert request is not None and request.attempts == 2  # the wrong BSN counted
    finally:
        engine.dispose()
