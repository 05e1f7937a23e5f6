"""BSN validation and keyed pseudonymisation.

A BSN (burgerservicenummer) is personal data that must never be stored by the SOC. We replace
it by `rp_` + base32(HMAC-SHA256(key, "bsn:" + BSN))[:32]: the same resident gets the same
pseudonym under one key (so detection can correlate "who looked at this person"), while
without the key a pseudonym cannot be reversed by trying all 10^9 numbers. The key is the
`pseudonym_key` secret; rotating it breaks correlation with older events, on purpose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from stdnum.nl import bsn as stdnum_bsn

from collectors.errors import ParseError
from core.errors import ConfigError

PSEUDONYM_PREFIX = "rp_"
MIN_KEY_BYTES = 16
# Any 9-digit run not touching other digits: a BSN candidate inside free text.
_BSN_CANDIDATE = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")


def is_valid_bsn(value: str) -> bool:
    """Exactly 9 ASCII digits passing the 11-test ("elfproef").

    The format check stays ours because stdnum also accepts separators and short numbers
    (it pads them), which a BSN field or a 9-digit run in free text must not be.
    """
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        return False
    return bool(stdnum_bsn.is_valid(value))


def valid_bsns_in(text: str) -> list[str]:
    """The 9-digit runs in `text` that pass the 11-test (BSNs, or numbers that could be one)."""
    return [match for match in _BSN_CANDIDATE.findall(text) if is_valid_bsn(match)]


def validate_bsn(value: str, *, field: str = "subject") -> str:
    """Return the BSN or raise ParseError naming `field`; the value itself is never echoed."""
    if not isinstance(value, str):
        raise ParseError("a BSN must be a string of 9 digits", field=field)
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        raise ParseError("a BSN must be exactly 9 digits", field=field)
    if not is_valid_bsn(value):
        raise ParseError("not a valid BSN (fails the 11-test)", field=field)
    return value


class Pseudonymiser:
    """Keyed, deterministic pseudonyms for BSNs."""

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
            raise ConfigError(f"pseudonym_key: need at least {MIN_KEY_BYTES} bytes of key")
        self._key = key

    def __repr__(self) -> str:  # never show the key in logs or tracebacks
        return "Pseudonymiser(key=<hidden>)"

    def pseudonym(self, bsn: str, *, field: str = "subject") -> str:
        """The pseudonym of a valid BSN; ParseError (naming `field`) for an invalid one."""
        validate_bsn(bsn, field=field)
        return self._digest(bsn)

    def scrub(self, text: str) -> str:
        """Replace every valid-BSN-looking 9-digit run in `text` by its pseudonym.

        Used on free text and on `event.original`, where a BSN may hide outside its field.
        A 9-digit number that passes the 11-test by chance is pseudonymised too: erring on
        the side of privacy.
        """
        return _BSN_CANDIDATE.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        value = match.group()
        return self._digest(value) if is_valid_bsn(value) else value

    def _digest(self, bsn: str) -> str:
        mac = hmac.new(self._key, b"bsn:" + bsn.encode("ascii"), hashlib.sha256).digest()
        return PSEUDONYM_PREFIX + base64.b32encode(mac[:20]).decode("ascii").lower()
