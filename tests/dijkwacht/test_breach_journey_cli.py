"""The DPO's breach journey through the command line alone, each step a `dijkwacht` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playbooks.breach.service import specs_for
from tests.conftest import REPO_ROOT

PASSWORD = "cli journey horse battery"
ASSESSMENT = {
    "dpc_base": 4, "ease_of_identification": "maximum", "loss_of_confidentiality": 2,
    "malicious_intent": True, "nature_sensitivity_volume": "BRP-gegevens van 140 inwoners",
    "severity_of_consequences": "Adres van kwetsbare inwoners", "number_of_individuals": 140,
}  # fmt: skip
TEXTS = {
    lang: {k: f"{k} ({lang})" for k in ("what_happened", "consequences", "measures", "advice")}
    for lang in ("nl", "en")
}


def _answers() -> dict[str, Any]:
    """A plausible answer to every question of the AP form."""
    when = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    by_kind: dict[str, Any] = {"bool": False, "int": 140, "list": ["naam"], "datetime": when}
    answers = {}
    for spec in specs_for("ap_initial"):
        if spec.kind == "choice":
            answers[spec.path] = spec.choices[0]
        else:
            answers[spec.path] = by_kind.get(spec.kind, "Zie het register.")
    answers["melding.soort"] = "nieuwe melding"
    return answers


def test_the_breach_journey_through_the_cli(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIJKWACHT_")}
    env.update({"DIJKWACHT_DATA_DIR": str(tmp_path / "data"), "DIJKWACHT_ENVIRONMENT": "test"})

    def run(*args: str, code: int = 0, stdin: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "dijkwacht", *args], cwd=REPO_ROOT, env=env, input=stdin,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == code, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    for name in ("fg", "fg2"):
        run("admin", "create-user", name, "--role", "dpo", "--password-stdin", stdin=PASSWORD)
    opened = run("breach", "open", "--as", "fg", "--title", "Inzage zonder zaak")
    assert "breach 1 DL-" in opened
    run("breach", "facts", "1", "--as", "fg", "--set", "subjects_max=140",
        "--set", "breach_types=confidentiality")  # fmt: skip
    refused = run("breach", "facts", "1", "--as", "fg", "--set", "subjects_max=veel", code=2)
    assert "subjects_max" in refused
    answers = tmp_path / "assessment.json"
    answers.write_text("{not json")
    refused = run("breach", "assess", "1", "--as", "fg", "--answers", str(answers), code=2)
    assert "--answers" in refused and "line 1" in refused and "Traceback" not in refused
    answers.write_text(json.dumps(ASSESSMENT))
    assessed = run("breach", "assess", "1", "--as", "fg", "--answers", str(answers))
    assert "very_high" in assessed and "ENISA" in assessed
    run("breach", "decide", "1", "notify_ap_and_subjects", "--as", "fg", "--reason", "Hoog risico")
    drafted = run("breach", "draft", "1", "--as", "fg")
    assert "report 1" in drafted and "question(s) open" in drafted
    assert "report 1: 0" not in drafted
    run("breach", "finalise", "1", "--as", "fg", code=2)  # refused: questions still open
    report = tmp_path / "answers.json"
    report.write_text(json.dumps(_answers()))
    assert "report 1: 0 question(s) open" in run(
        "breach", "answer", "1", "--as", "fg", "--answers", str(report)
    )
    final = run("breach", "finalise", "1", "--as", "fg")
    digest = final.strip().rsplit(" ", 1)[1]
    assert len(digest) == 64
    run("breach", "report", "1", "-o", str(tmp_path / "melding.json"))
    assert json.loads((tmp_path / "melding.json").read_text())["sha256"] == digest
    run("breach", "report", "1", "-o", str(tmp_path / "melding.pdf"))
    assert (tmp_path / "melding.pdf").read_bytes().startswith(b"%PDF")

    people = tmp_path / "people.csv"
    people.write_text("identifier,name,email,language\nR-1,A. Jansen,a@example.org,nl\n")
    texts = tmp_path / "texts.json"
    texts.write_text(json.dumps(TEXTS))
    letters = run("breach", "letters", "1", "--as", "fg", "--recipients", str(people),
                  "--texts", str(texts))  # fmt: skip
    assert "letter batch 1 drafted" in letters
    assert "four eyes" in run("breach", "letters-approve", "1", "--as", "fg", code=2)
    run("breach", "letters-approve", "1", "--as", "fg2")
    assert "1 letter(s) queued" in run("breach", "letters-send", "1", "--as", "fg2")
    run("breach", "close", "1", "--as", "fg", "--lessons", "Kwartaalcontrole",
        "--remedial", "Toegang ingetrokken")  # fmt: skip
    shown = run("breach", "show", "1")
    assert "state: closed" in shown and "Toegang ingetrokken" in shown

    # A resident's access request: recorded (BSN on stdin, checked), extended, answered, exported.
    bad = run("breach", "requests", "add", "--as", "fg", "--kind", "access",
              "--requester", "A. Jansen", stdin="12345\n", code=2)  # fmt: skip
    assert "bsn" in bad
    added = run("breach", "requests", "add", "--as", "fg", "--kind", "access",
                "--requester", "A. Jansen", stdin="111222333\n")  # fmt: skip
    assert "AV-" in added and "due" in added
    assert "nog " in run("breach", "requests", "list", "--open")
    run("breach", "requests", "extend", "1", "--as", "fg", "--reason", "Veel systemen")
    run("breach", "requests", "answer", "1", "--as", "fg", "--answer", "Overzicht per post")
    run("breach", "requests", "export", "-o", str(tmp_path / "verzoeken.csv"))
    exported = (tmp_path / "verzoeken.csv").read_text()
    assert "Veel systemen" in exported and "111222333" not in exported
