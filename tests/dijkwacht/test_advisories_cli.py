"""`dijkwacht inventory ...` and `dijkwacht advisories ...`, with a CSAF provider served over
HTTP from 127.0.0.1 (ROLIE feed and directory index), as the sector's providers publish."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from core.config import get_settings
from core.store.relational import create_db_engine
from dijkwacht.cli import app
from tests.advisories.samples import csaf_advisory, inventory_csv

GATEWAY = {
    "vendor": "Example", "product": "Gateway", "version": "2.3.0", "owner": "team-netwerk",
    "exposure": "internet", "cpe": "cpe:2.3:a:example:gateway:2.3.0:*:*:*:*:*:*:*",
    "log_source": "syslog:gw01",
}  # fmt: skip


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(path))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    return path


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[str]:
    """A CSAF provider on 127.0.0.1: one advisory in a ROLIE feed, one in a directory."""
    root = tmp_path / "www"
    (root / "white" / "2026").mkdir(parents=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    base = f"http://127.0.0.1:{server.server_address[1]}"
    feed_doc = csaf_advisory(tracking_id="NCSC-2026-0001")
    dir_doc = csaf_advisory(tracking_id="NCSC-2026-0002", severity="Low", cve="CVE-2026-22222")
    (root / "white" / "2026" / "ncsc-2026-0001.json").write_text(json.dumps(feed_doc))
    (root / "white" / "2026" / "ncsc-2026-0002.json").write_text(json.dumps(dir_doc))
    (root / "white" / "index.txt").write_text("2026/ncsc-2026-0002.json\n")
    feed = {"feed": {"id": "white", "title": "TLP:WHITE", "entry": [
        {"id": "NCSC-2026-0001", "title": "Gateway",
         "link": [{"rel": "self", "href": f"{base}/white/2026/ncsc-2026-0001.json"}],
         "format": {"schema": "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json",
                    "version": "2.0"}}]}}  # fmt: skip
    (root / "feed-white.json").write_text(json.dumps(feed))
    metadata = {
        "canonical_url": f"{base}/provider-metadata.json",
        "distributions": [
            {"rolie": {"feeds": [{"url": f"{base}/feed-white.json", "tlp_label": "WHITE"}]}},
            {"directory_url": f"{base}/white/"},
        ],
    }
    (root / "provider-metadata.json").write_text(json.dumps(metadata))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{base}/provider-metadata.json"
    finally:
        server.shutdown()
        server.server_close()


def test_inventory_import_reports_counts_and_located_problems(
    data_dir: Path, tmp_path: Path
) -> None:
    csv_file = tmp_path / "inventory.csv"
    csv_file.write_text(inventory_csv([GATEWAY, {**GATEWAY, "version": "9", "exposure": "dmz"}]))
    result = CliRunner().invoke(app, ["inventory", "import", str(csv_file)])
    assert result.exit_code == 1, result.output
    assert f"{csv_file}:3: exposure: must be internet or internal" in result.output
    assert "inventory: 1 added, 0 updated, 1 refused" in result.output
    listed = CliRunner().invoke(app, ["inventory", "list"])
    assert "Example Gateway 2.3.0 · team-netwerk · internet" in listed.output
    sources = CliRunner().invoke(app, ["inventory", "sources"])
    assert "syslog:gw01 · max silence 15 min" in sources.output and "inventory" in sources.output
    bad = CliRunner().invoke(app, ["inventory", "expect", "x", "--max-silence", "0"])
    assert bad.exit_code == 2 and "max_silence_minutes" in bad.output
    ok = CliRunner().invoke(app, ["inventory", "expect", "exchange01", "--max-silence", "30"])
    assert ok.exit_code == 0
    status = CliRunner().invoke(app, ["collectors", "status"])
    assert status.exit_code == 0, status.output
    assert "MISSING (expected, never seen)" in status.stdout and "exchange01" in status.stdout
    gone = CliRunner().invoke(app, ["inventory", "forget", "exchange01"])
    assert gone.exit_code == 0
    assert "exchange01" not in CliRunner().invoke(app, ["inventory", "sources"]).output


def test_advisories_from_a_provider_open_one_incident_and_risk_can_be_accepted(
    data_dir: Path, tmp_path: Path, provider: str
) -> None:
    csv_file = tmp_path / "inventory.csv"
    csv_file.write_text(inventory_csv([GATEWAY]))
    assert CliRunner().invoke(app, ["inventory", "import", str(csv_file)]).exit_code == 0
    result = CliRunner().invoke(app, ["advisories", "import", provider])
    assert result.exit_code == 0, result.output
    assert "NCSC-2026-0001: 1 affected item(s) · incident #1 (opened)" in result.output
    assert "NCSC-2026-0002: 1 affected item(s)" in result.output
    assert "advisories: 2 imported, 0 problem(s), 1 incident(s) opened" in result.output
    again = CliRunner().invoke(app, ["advisories", "import", provider])
    assert "0 incident(s) opened" in again.output
    listed = CliRunner().invoke(app, ["advisories", "list"])
    assert listed.output.count("Example Gateway 2.3.0 (team-netwerk)") == 2
    accepted = CliRunner().invoke(
        app,
        ["advisories", "accept-risk", "1", "1", "--reason", "VPN only",
         "--until", "2099-01-01T00:00+01:00"],
    )  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    assert "NCSC-2026-0001" not in CliRunner().invoke(app, ["advisories", "list"]).output
    engine = create_db_engine(get_settings())
    try:
        with engine.connect() as connection:
            titles = list(connection.execute(text("SELECT title FROM incidents")).scalars())
    finally:
        engine.dispose()
    assert titles == ["Advisory NCSC-2026-0001: Kwetsbaarheid verholpen in Example Gateway"]


def test_a_bad_file_and_a_missing_url_are_located(data_dir: Path, tmp_path: Path) -> None:
    bad = csaf_advisory()
    del bad["document"]["tracking"]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    (tmp_path / "broken.json").write_text("{")
    result = CliRunner().invoke(
        app, ["advisories", "import", str(tmp_path), "http://127.0.0.1:9/nothing.json"]
    )
    assert result.exit_code == 1
    assert f"{tmp_path / 'bad.json'}: /document: 'tracking' is a required property" in (
        result.output
    )
    assert f"{tmp_path / 'broken.json'}:1: (document): not JSON" in result.output
    assert "http://127.0.0.1:9/nothing.json: (url): cannot fetch" in result.output
