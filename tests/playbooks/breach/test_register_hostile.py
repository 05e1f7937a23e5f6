"""The processing-register YAML form goes through the safe content loader: hostile input is a
located RegisterFileError, never a hang or a crash."""

from __future__ import annotations

import time

import pytest

from playbooks.breach.processing_register import RegisterFileError, parse_yaml

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True)
)


@pytest.mark.parametrize(
    ("text", "located"),
    [
        (LAUGHS, "reg.yml:6: (yaml): expands to more than"),
        ("systems: " + "[" * 3000 + "]" * 3000, "reg.yml:1: (yaml): "),
        ("systems:\n  - name: x\n    since: 2025-02-30\n", "reg.yml:3: systems[0].since: invalid"),
        ("systems:\n  - name: \x07\n", "reg.yml:2: (yaml): invalid YAML: control"),
    ],
)
def test_hostile_register_yaml_is_a_located_error(text: str, located: str) -> None:
    started = time.perf_counter()
    with pytest.raises(RegisterFileError) as caught:
        parse_yaml(text, "reg.yml")
    assert time.perf_counter() - started < 1
    assert caught.value.location.startswith(located), caught.value.location
