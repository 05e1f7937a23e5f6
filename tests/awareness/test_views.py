"""The public awareness routes serve pages, PDFs, the bulletin and the feed to anyone."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi.testclient import TestClient

from tests.dashboard.conftest import Env


def test_public_routes_serve_content(env: Env) -> None:
    client = TestClient(env.app)  # type: ignore[arg-type]
    index = client.get("/awareness/index.html")
    assert index.status_code == 200 and 'lang="nl"' in index.text
    page = client.get("/awareness/en/business/ransomware.html")
    assert page.status_code == 200 and "Ransomware for small businesses" in page.text
    pdf = client.get("/awareness/nl/primary/phishing-poster.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get("/awareness/nl/parents/bulletin.html").status_code == 200
    feed = client.get("/awareness/nl/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert 'xml:base="http://testserver/awareness/"' in feed.text


def test_unknown_content_is_404(env: Env) -> None:
    client = TestClient(env.app)  # type: ignore[arg-type]
    assert client.get("/awareness/fr/library/phishing.html").status_code == 404
    assert client.get("/awareness/nl/pensioners/phishing.html").status_code == 404
    assert client.get("/awareness/nl/library/nothing.html").status_code == 404
    assert client.get("/awareness/nl/library/phishing.exe").status_code == 404


def test_inline_stylesheet_is_admitted_by_hash_and_nothing_else(env: Env) -> None:
    """The page's own <style> passes the Content-Security-Policy; other inline styles do not."""
    client = TestClient(env.app)  # type: ignore[arg-type]
    response = client.get("/awareness/nl/library/phishing.html")
    assert response.status_code == 200
    styles = re.findall(rb"<style>(.*?)</style>", response.content, re.DOTALL)
    assert styles
    policy = response.headers["content-security-policy"]
    for block in styles:
        digest = base64.b64encode(hashlib.sha256(block).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "'unsafe-inline'" not in policy
    assert "script-src 'self';" in policy
