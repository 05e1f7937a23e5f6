"""Pseudonyms: the BSN 11-test and keyed pseudonyms of data subject ids."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ConfigError
from core.privacy.pseudonyms import is_valid_bsn
from core.privacy.service import PrivacyError, Pseudonymiser

KEY = b"k" * 32
VALID = "111222333"  # 9*1+8*1+7*1+6*2+5*2+4*2+3*3+2*3-1*3 = 66 = 6*11


def valid_bsns() -> st.SearchStrategy[str]:
    """Random numbers fixed up to pass the 11-test (the last digit absorbs the remainder)."""

    def build(prefix: str) -> str | None:
        total = sum(int(d) * w for d, w in zip(prefix, range(9, 1, -1), strict=True))
        last = total % 11
        return f"{prefix}{last}" if last < 10 and f"{prefix}{last}" != "000000000" else None

    return (
        st.from_regex(r"[0-9]{8}", fullmatch=True).map(build).filter(lambda v: v is not None)  # type: ignore[return-value]
    )


def test_elfproef() -> None:
    assert is_valid_bsn(VALID)
    assert is_valid_bsn("123456782")
    assert not is_valid_bsn("123456789")
    assert not is_valid_bsn("000000000")
    assert not is_valid_bsn("12345678")
    assert not is_valid_bsn("１２３４５６７８２")  # full-width digits are not ASCII


@given(valid_bsns())
def test_same_key_same_pseudonym_other_key_other_pseudonym(bsn: str) -> None:
    first = Pseudonymiser(KEY).pseudonym(bsn)
    assert first == Pseudonymiser(KEY).pseudonym(bsn)
    assert first != Pseudonymiser(b"x" * 32).pseudonym(bsn)
    assert first.startswith("rp_") and len(first) == 35
    assert bsn not in first


@pytest.mark.parametrize("value", ["12345678", "1234567890", "abcdefghi", "123456789", ""])
def test_invalid_bsn_names_the_field_not_the_value(value: str) -> None:
    with pytest.raises(PrivacyError) as error:
        Pseudonymiser(KEY).pseudonym(value)
    assert error.value.field == "subject"
    assert not value or value not in str(error.value)


def test_scrub_replaces_only_valid_bsns() -> None:
    scrubbed = Pseudonymiser(KEY).scrub(f"bsn {VALID}, order 123456789, long 1111222333")
    assert VALID not in scrubbed.replace("1111222333", "")
    assert "123456789" in scrubbed and "1111222333" in scrubbed


def test_short_key_refused_and_key_hidden() -> None:
    with pytest.raises(ConfigError):
        Pseudonymiser(b"short")
    assert "k" * 32 not in repr(Pseudonymiser(KEY))


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_the_hand_written_11_test_agrees_with_python_stdnum(number: str) -> None:
    from stdnum.nl import bsn

    assert is_valid_bsn(number) == bsn.is_valid(number)
