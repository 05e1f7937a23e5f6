"""What starting the command line and the dashboard imports: never the packet library.

Scapy costs 0.3-0.75 s to import (measured with `python -X importtime`); only reading a capture
needs it. The roots reach the capture reader through `collectors.processes` inside the commands
that read files, so neither `dijkwacht --help` nor the dashboard's app may import scapy. Counted
from `-X importtime` of a fresh interpreter (what an operator's start pays), not timed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.test_import_contract import REPO_ROOT


def imported_modules(*arguments: str) -> set[str]:
    """Every module a fresh interpreter imports running `python -X importtime ARGS`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = (line.rpartition("|")[2] for line in done.stderr.splitlines() if "|" in line)
    return {line.strip() for line in lines}


@pytest.mark.parametrize(
    "arguments",
    [("-m", "dijkwacht", "--help"), ("-c", "from dashboard.app import create_app")],
    ids=["dijkwacht --help", "dashboard app"],
)
def test_start_up_never_imports_scapy(arguments: tuple[str, ...]) -> None:
    modules = imported_modules(*arguments)
    assert "typer" in modules or "fastapi" in modules  # the count saw the start-up
    assert not {m for m in modules if m == "scapy" or m.startswith("scapy.")}


def test_the_count_sees_scapy_when_a_reader_imports_it() -> None:
    code = "from collectors.processes import read_capture; import scapy.utils"
    assert "scapy.utils" in imported_modules("-c", code)
