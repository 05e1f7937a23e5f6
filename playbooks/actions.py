"""Automated response actions: each is an Ansible play under `playbooks/ansible/`, run locally.

`ACTIONS` is the registry playbook files refer to. `run_play` runs one play through
ansible-runner with the targets from the settings, a temp dir inside the data dir and a
timeout. Extravars are written to disk by ansible-runner, so they carry names and paths only,
never a secret. Every shipped play is idempotent (lineinfile, fixed file contents), and
appends to the action journal only when it actually changed something, so a play that is run
again after a crash neither duplicates its effect nor its journal line.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import Settings
from core.errors import DijkwachtError, ValidationError

ANSIBLE_DIR = Path(__file__).resolve().parent / "ansible"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


def _name(value: str) -> str:
    if not _NAME.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not a valid account or host name")
    return value.strip()


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """A shipped action: the play that implements it and its checked parameters."""

    name: str
    play: str
    description: str
    params: Mapping[str, Callable[[str], str]]


ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec("block_ip", "block_ip.yml", "Add an IP to the firewall block list", {"ip": _ip}),
        ActionSpec(
            "disable_account",
            "disable_account.yml",
            "Disable an account in the directory",
            {"user": _name},
        ),
        ActionSpec(
            "isolate_host", "isolate_host.yml", "Write a host's quarantine config", {"host": _name}
        ),
        ActionSpec(
            "collect_triage",
            "collect_triage.yml",
            "Copy a host's triage files into the incident's evidence folder",
            {"host": _name},
        ),
    )
}


class ActionFailed(DijkwachtError):
    """The play failed or timed out; the message says why (the play's own failure message)."""


def check_params(action: str, params: Mapping[str, str]) -> dict[str, str]:
    """Validated parameters for `action`; ValidationError names the parameter."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise ValidationError("action", f"unknown action {action!r}")
    clean: dict[str, str] = {}
    for name, check in spec.params.items():
        if name not in params or not params[name]:
            raise ValidationError(f"params.{name}", f"required by {action}")
        try:
            clean[name] = check(params[name])
        except ValueError as exc:
            raise ValidationError(f"params.{name}", str(exc)) from None
    return clean


def target_paths(settings: Settings, incident_id: int) -> dict[str, str]:
    """Where the shipped plays write; one place, so tests and operators can find the effects."""
    targets = settings.resolved_action_targets_dir
    return {
        "firewall_rules_file": str(targets / "firewall" / "blocklist.rules"),
        "directory_file": str(targets / "directory" / "accounts.json"),
        "quarantine_dir": str(targets / "quarantine"),
        "triage_source_dir": str(targets / "triage-source"),
        "evidence_dir": str(evidence_dir(settings, incident_id) / "triage"),
        "journal_file": str(targets / "actions.journal"),
    }


def evidence_dir(settings: Settings, incident_id: int) -> Path:
    """Folder of an incident's evidence files (content-addressed by SHA-256)."""
    return settings.resolved_data_dir / "evidence" / f"incident-{incident_id}"


def _failure_message(runner: Any) -> str:
    for event in reversed(list(runner.events)):
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            result = event.get("event_data", {}).get("res", {})
            task = event.get("event_data", {}).get("task", "?")
            message = result.get("msg") or result.get("stderr") or "failed"
            return f"task {task!r}: {str(message)[:500]}"
    return f"ansible-runner status {runner.status} (rc {runner.rc})"


def run_play(
    *,
    settings: Settings,
    action: str,
    params: Mapping[str, str],
    incident_id: int,
    key: str,
    attempt: int,
) -> dict[str, Any]:
    """Run the action's play once; return a small result, raise ActionFailed on failure."""
    import ansible_runner  # noqa: PLC0415 - ansible_runner: +35 ms on start-up

    spec = ACTIONS[action]
    clean = check_params(action, params)
    safe_key = re.sub(r"[^A-Za-z0-9_-]", "_", key)
    private = settings.resolved_data_dir / "ansible" / safe_key
    tmp = settings.resolved_data_dir / "ansible" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    extravars = {**clean, **target_paths(settings, incident_id), "idempotency_key": key}
    runner = ansible_runner.run(
        private_data_dir=str(private),
        project_dir=str(ANSIBLE_DIR),
        playbook=spec.play,
        inventory={"all": {"hosts": {"localhost": {"ansible_connection": "local"}}}},
        extravars=extravars,
        envvars={
            "ANSIBLE_REMOTE_TMP": str(tmp),
            "ANSIBLE_LOCAL_TEMP": str(tmp),
            "ANSIBLE_HOME": str(settings.resolved_data_dir / "ansible" / "home"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            # `ansible-playbook` lives next to this interpreter (the venv), maybe not on PATH.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        },
        ident=f"attempt-{attempt}",
        rotate_artifacts=5,
        timeout=settings.action_timeout_seconds,
        quiet=True,
    )
    if runner.status != "successful":
        raise ActionFailed(_failure_message(runner))
    changed = sum(
        1 for event in runner.events if event.get("event_data", {}).get("res", {}).get("changed")
    )
    return {"action": action, "params": clean, "status": runner.status, "changed": changed}
