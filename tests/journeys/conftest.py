"""Journeys: each role's work walked in headless Chromium against the processes `dijkwacht up`
starts, the proof that a feature is usable and not only callable.

One platform (`dijkwacht up --demo` on a fresh data directory and free ports) serves every
journey of a test session; each journey works on data of its own, so order does not matter.
Accounts for every role are created the way an admin does it (`dijkwacht admin create-user
--password-stdin`) before the platform starts. Each step of a journey saves a screenshot under
`test-output/journeys/<test>/` (git-ignored) so a person can see what the user saw.

Needs Debian's /usr/bin/chromium (scripts/test-browser.sh) and the `playwright` package (test
extra; it drives the system browser, no browser download). Outside CI a missing browser skips;
under CI (CI=true) it fails.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO_ROOT
from tests.processes import free_port

CHROMIUM = Path("/usr/bin/chromium")
OUT = REPO_ROOT / "test-output" / "journeys"
START_TIMEOUT = 180.0
PASSWORD = "journey horse battery staple"
DIJKWACHT = (sys.executable, "-m", "dijkwacht")
# One account per role, named after the person a municipality would give it to.
ACCOUNTS = {
    "analyst": "analist",
    "incident_manager": "incidentmanager",
    "crisis_team": "crisisteam",
    "dpo": "fg",
    "exercise_controller": "oefenleider",
    "admin": "beheerder",
    "auditor": "auditor",
}
# Flags for a root, offline, headless Chromium (machine notes: without the background-networking
# flags Chromium keeps trying hosts this machine cannot reach).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return "Debian chromium missing (/usr/bin/chromium; scripts/test-browser.sh installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (./dev test installs the test extra)"
    return None


def _require_browser() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI needs the journey browser: {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class Platform:
    """A running `dijkwacht up --demo`: where it listens and how to reach its command line."""

    base_url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[str]
    log: Path
    syslog_port: int

    def cli(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        """Run `dijkwacht ARGS` against this platform's data directory; return its output."""
        result = subprocess.run(
            [*DIJKWACHT, *args],
            cwd=REPO_ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"dijkwacht {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result.stdout + result.stderr


def _ready(base_url: str) -> bool:
    try:
        response = httpx.get(f"{base_url}/health", timeout=2)
        body = response.json()
    except (httpx.HTTPError, ValueError):
        return False
    processes = body.get("components", {}).get("processes", {})
    running = {name for name, child in processes.items() if child.get("state") == "running"}
    return response.status_code == 200 and {"api", "worker", "beat"} <= running


# --- Issue 19 (DPO journey): a local mail receiver the platform's letters are delivered to. ---
@pytest.fixture(scope="session")
def mailbox() -> Iterator[Any]:
    """An aiosmtpd receiver on 127.0.0.1, started before the platform (its SMTP settings)."""
    from tests.playbooks.breach.mail import smtp_server

    with smtp_server() as (port, box):
        box.port = port  # type: ignore[attr-defined]
        yield box


# --- end of issue 19's part ---


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory, mailbox: Any) -> Iterator[Platform]:
    """`dijkwacht up --demo` with an account per role; stopped with Ctrl-C (SIGINT) at the end."""
    _require_browser()
    root = tmp_path_factory.mktemp("journey-platform")
    port, syslog_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIJKWACHT_")}
    env.update(
        {
            "DIJKWACHT_DATA_DIR": str(root / "data"),
            "DIJKWACHT_HTTP_PORT": str(port),
            "DIJKWACHT_SYSLOG_PORT": str(syslog_port),
            # Free ports for every other listener too: platforms of parallel runs on this
            # machine must not fight over the fixed defaults (RELP 2514/2515, HTTP ingest 8001).
            "DIJKWACHT_SYSLOG_TLS_PORT": str(free_port()),
            "DIJKWACHT_RELP_PORT": str(free_port()),
            "DIJKWACHT_RELP_TLS_PORT": str(free_port()),
            "DIJKWACHT_INGEST_HTTP_PORT": str(free_port()),
            "DIJKWACHT_ENVIRONMENT": "test",
            "DIJKWACHT_SMTP_HOST": "127.0.0.1",  # issue 19: letters go to the `mailbox` fixture
            "DIJKWACHT_SMTP_PORT": str(mailbox.port),
        }
    )
    for role, username in ACCOUNTS.items():
        subprocess.run(
            [*DIJKWACHT, "admin", "create-user", username, "--role", role, "--password-stdin"],
            cwd=REPO_ROOT,
            env=env,
            input=PASSWORD + "\n",
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
    log = root / "up.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*DIJKWACHT, "up", "--demo"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    running = Platform(base_url, root / "data", env, process, log, syslog_port)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _ready(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dijkwacht up --demo did not become ready:\n{log.read_text()[-6000:]}")
            time.sleep(0.5)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no browser download); one per test session,
    because Playwright's sync API allows one driver per thread."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def browser(platform: Platform, chromium: Any) -> Any:
    """The session's Chromium, once the shared platform is up."""
    return chromium


@dataclass
class Journey:
    """Opens browser contexts for people and saves a numbered screenshot at every step."""

    platform: Platform
    browser: Any
    out: Path
    contexts: list[Any] = field(default_factory=list)
    steps: int = 0

    def visitor(self, *, locale: str = "nl-NL") -> Any:
        """A new browser context that nobody has logged in to yet; returns its page."""
        context = self.browser.new_context(
            base_url=self.platform.base_url, locale=locale, viewport={"width": 1366, "height": 900}
        )
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        return context.new_page()

    def login(self, role: str) -> Any:
        """A page in a new browser context, logged in through the login form as `role`."""
        page = self.visitor()
        page.goto("/login")
        page.fill("input[name=username]", ACCOUNTS[role])
        page.fill("input[name=password]", PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "/login" not in page.url, f"{role} could not log in: {page.content()[:2000]}"
        return page

    def shot(self, page: Any, what: str, *, full_page: bool = True) -> Path:
        """Save a screenshot named after the step (the journey's visual record): the whole page,
        or only the window for very long pages (raw text such as /metrics took over 15 s to
        paint in full on a loaded machine). The screenshot gets a minute, not the default 15 s."""
        self.steps += 1
        slug = re.sub(r"[^a-z0-9]+", "-", what.lower()).strip("-")[:60]
        path = self.out / f"{self.steps:02d}-{slug}.png"
        page.screenshot(path=str(path), full_page=full_page, timeout=60_000)
        return path

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def journey(platform: Platform, browser: Any, request: pytest.FixtureRequest) -> Iterator[Journey]:
    out = OUT / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    walked = Journey(platform, browser, out)
    try:
        yield walked
    finally:
        walked.close()
