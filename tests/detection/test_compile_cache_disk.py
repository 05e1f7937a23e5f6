"""The compile cache on disk: a restart loads unchanged rule files instead of compiling them."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import orjson
import pytest

from detection import compile_cache
from detection.codegen import NotStorable, unpack
from detection.compile_cache import CompileCache
from detection.loader import LastGood
from detection.service import RuleSet, load_rules
from tests.conftest import CORPUS_DIR

RULE = """
title: Rule {n}
id: cccccccc-0000-0000-0000-00000000000{n}
status: test
level: low
logsource: {{category: process_creation, product: windows}}
detection:
    selection:
        Image|endswith: '\\\\tool{n}.exe'
    other:
        CommandLine|re: 'run[0-9]+'
        CommandLine|contains|all: [a1, b2, c3, d4, e5, f6, g7, h8, i9]
    condition: selection or other
"""
STACKS = ("sysmon+windows-logsources", "windows-audit+windows-logsources")
EVENTS = [
    {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": "C:\\tool1.exe"},
    {"Channel": "Security", "EventID": 4688, "NewProcessName": "C:\\tool2.exe"},
    {"Channel": "Security", "EventID": 4688, "NewProcessName": "C:\\tool9.exe"},
    {
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "EventID": 1,
        "CommandLine": "run42 a1 b2 c3 d4 e5 f6 g7 h8 i9",
    },
]


def _matches(ruleset: RuleSet) -> list[tuple[int, str, tuple[str, ...]]]:
    return sorted((m.event_index, m.rule_id, m.selections) for m in ruleset.match_batch(EVENTS))


def _rules(folder: Path, count: int = 3) -> Path:
    folder.mkdir(exist_ok=True)
    for n in range(1, count + 1):
        (folder / f"r{n}.yml").write_text(RULE.format(n=n), encoding="utf-8")
    return folder


def _load(rules: Path, cache: Path) -> tuple[RuleSet, CompileCache]:
    compiled = CompileCache(cache)
    ruleset = load_rules(paths=[rules], stacks=STACKS, cache=compiled, last_good=LastGood())
    return ruleset, compiled


def test_a_restart_loads_every_unchanged_file_from_disk(tmp_path: Path) -> None:
    rules, cache = _rules(tmp_path / "rules"), tmp_path / "cache"
    cold, first = _load(rules, cache)
    assert first.stats["compiled"] == 3 and first.stats["written"] == 3
    warm, second = _load(rules, cache)  # a new cache object: what a new process has
    assert second.stats["disk"] == 3 and second.stats["compiled"] == 0
    assert _matches(warm) == _matches(cold) == _matches(load_rules(paths=[rules], stacks=STACKS))
    assert (3, "cccccccc-0000-0000-0000-000000000001", ("other",)) in _matches(warm)
    assert warm.rules == cold.rules and warm.skipped == cold.skipped
    # Private: the directory 0700, every entry 0600, nothing half-written left behind.
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    entries = sorted(cache.iterdir())
    assert len(entries) == 3 and all(e.suffix == ".rule" for e in entries)
    assert {stat.S_IMODE(e.stat().st_mode) for e in entries} == {0o600}


def test_a_damaged_entry_is_ignored_and_written_again(tmp_path: Path) -> None:
    rules, cache = _rules(tmp_path / "rules"), tmp_path / "cache"
    cold, _ = _load(rules, cache)
    first, second, third = sorted(cache.iterdir(), key=lambda p: p.stat().st_ino)
    first.write_bytes(first.read_bytes()[:-100])  # truncated
    data = bytearray(second.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # zeroed in the middle
    second.write_bytes(bytes(data))
    third.write_bytes(b"not an entry")
    warm, loaded = _load(rules, cache)
    assert loaded.stats["rejected"] == 3 and loaded.stats["compiled"] == 3
    assert _matches(warm) == _matches(cold)
    _, again = _load(rules, cache)
    assert again.stats["disk"] == 3 and again.stats["rejected"] == 0


def test_an_edited_rule_invalidates_only_its_own_entry(tmp_path: Path) -> None:
    rules, cache = _rules(tmp_path / "rules"), tmp_path / "cache"
    _load(rules, cache)
    (rules / "r3.yml").write_text(RULE.format(n=3).replace("tool3", "tool9"), "utf-8")
    edited, loaded = _load(rules, cache)
    assert loaded.stats["disk"] == 2 and loaded.stats["compiled"] == 1
    assert (2, "cccccccc-0000-0000-0000-000000000003", ("selection",)) in _matches(edited)
    assert _matches(edited) == _matches(load_rules(paths=[rules], stacks=STACKS))


def test_other_stacks_or_another_engine_version_never_reuse_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules, cache = _rules(tmp_path / "rules"), tmp_path / "cache"
    _load(rules, cache)
    other = CompileCache(cache)
    load_rules(paths=[rules], stacks=STACKS[:1], cache=other)
    assert other.stats["disk"] == 0 and other.stats["compiled"] == 3
    monkeypatch.setattr(compile_cache, "ENGINE_VERSION", "detection-compiler-next")
    _, loaded = _load(rules, cache)
    assert loaded.stats["disk"] == 0 and loaded.stats["compiled"] == 3


def test_a_directory_others_may_write_to_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules, cache = _rules(tmp_path / "rules"), tmp_path / "cache"
    _load(rules, cache)
    os.chmod(cache, 0o777)
    with caplog.at_level(logging.WARNING, logger="detection.compile_cache"):
        warm, loaded = _load(rules, cache)
    assert loaded.stats["disk"] == 0 and loaded.stats["compiled"] == 3
    assert loaded.stats["written"] == 0
    assert "writable by group or others" in caplog.text
    assert _matches(warm) == _matches(load_rules(paths=[rules], stacks=STACKS))


def test_a_file_served_from_disk_that_turns_bad_keeps_its_last_good_version(
    tmp_path: Path,
) -> None:
    rules, cache = _rules(tmp_path / "rules"), tmp_path / "cache"
    _load(rules, cache)
    compiled, last_good = CompileCache(cache), LastGood()
    load_rules(paths=[rules], stacks=STACKS, cache=compiled, last_good=last_good)
    (rules / "r1.yml").write_text("title: [broken", encoding="utf-8")
    broken = load_rules(paths=[rules], stacks=STACKS, cache=compiled, last_good=last_good)
    assert (0, "cccccccc-0000-0000-0000-000000000001", ("selection",)) in _matches(broken)
    assert any("last good version" in problem.message for problem in broken.problems)


def test_an_image_names_only_functions_of_the_detection_engine() -> None:
    with pytest.raises(NotStorable):
        unpack(("fn", "os", "system"))
    with pytest.raises(NotStorable):
        unpack(("call", "detection.modifiers", "compile_value", ()))  # not a factory
    with pytest.raises(NotStorable):
        unpack(("fn", "detection.modifiers", "os.system"))


SIGMA_DEV = CORPUS_DIR / "sigma-dev"


@pytest.mark.skipif(not (SIGMA_DEV / "events.jsonl").is_file(), reason="sigma-dev not found")
def test_restored_sigma_dev_rules_match_as_compiled_ones(tmp_path: Path) -> None:
    """All 696 SigmaHQ rules (1,304 compiled): stored, loaded back, same matches and reasons."""
    cold, first = _load(SIGMA_DEV / "rules", tmp_path / "cache")
    warm, second = _load(SIGMA_DEV / "rules", tmp_path / "cache")
    assert first.stats["written"] == second.stats["disk"] == len(cold.rules) == 696
    assert len(warm.engine.compiled) == len(cold.engine.compiled) == 1304
    lines = (SIGMA_DEV / "events.jsonl").read_bytes().splitlines()
    events = [orjson.loads(line) for line in lines]
    found = {
        name: [(m.event_index, m.rule_id, m.selections) for m in ruleset.match_batch(events)]
        for name, ruleset in (("cold", cold), ("warm", warm))
    }
    assert len(found["cold"]) > 1000
    assert found["warm"] == found["cold"]


def test_the_detector_restarts_from_disk_with_its_rule_settings(tmp_path: Path) -> None:
    """The collector's loader: attributes and scheduled-mode skips survive a restart."""
    from detection.stream import SCHEDULED_SKIP, load_detector

    rules, cache = _rules(tmp_path / "rules"), tmp_path / "cache"
    first = rules / "r1.yml"
    first.write_text(first.read_text("utf-8") + "dijkwacht.personal_data: true\n", "utf-8")

    def load(compiled: CompileCache):  # type: ignore[no-untyped-def]
        return load_detector(
            paths=[rules],
            stacks=STACKS,
            last_good=LastGood(),
            cache=compiled,
            mode_of=lambda rule_id: "scheduled" if rule_id.endswith("2") else "streaming",
        )

    cold = load(CompileCache(cache))
    warm_cache = CompileCache(cache)
    warm = load(warm_cache)
    assert warm_cache.stats["disk"] == 3 and warm_cache.stats["compiled"] == 0
    for detector in (cold, warm):
        assert detector.meta["cccccccc-0000-0000-0000-000000000001"].personal_data
        assert not detector.meta["cccccccc-0000-0000-0000-000000000003"].personal_data
        assert detector.scheduled == {"cccccccc-0000-0000-0000-000000000002"}
        skipped = {(s.rule_id, s.reason) for s in detector.ruleset.skipped}
        assert ("cccccccc-0000-0000-0000-000000000002", SCHEDULED_SKIP) in skipped
        found = {m.rule_id for m in detector.ruleset.match_batch(EVENTS)}
        assert "cccccccc-0000-0000-0000-000000000002" not in found
        assert "cccccccc-0000-0000-0000-000000000001" in found
