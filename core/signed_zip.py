"""A ZIP with a SHA-256 manifest signed by the platform key, and its check.

Used by every package that leaves the platform with evidence (the police package, the BIO2
evidence package). The ZIP holds the members, `MANIFEST.sha256` (the format `sha256sum -c`
reads), `MANIFEST.sha256.sig` (Ed25519 over the manifest with the platform key,
`core.audit_checkpoint.signing_key`) and `PUBLIC_KEY.txt`. The receiver pins the public key:
a changed file breaks its hash, a changed manifest breaks the signature.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from core.audit_checkpoint import signing_key
from core.config import Settings

MANIFEST = "MANIFEST.sha256"
SIGNATURE = "MANIFEST.sha256.sig"
PUBLIC_KEY = "PUBLIC_KEY.txt"
RESERVED = frozenset({MANIFEST, SIGNATURE, PUBLIC_KEY})


@dataclass(frozen=True, slots=True)
class SignedZip:
    """The ZIP, its manifest (member -> SHA-256), the manifest text and the hex public key."""

    zip: bytes
    manifest: dict[str, str]
    manifest_text: bytes
    public_key: str

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.manifest_text).hexdigest()


def public_key_hex(settings: Settings) -> str:
    """The platform's Ed25519 public key (raw, hex): what a receiver pins."""
    public = signing_key(settings).public_key()
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def build_signed_zip(*, settings: Settings, members: Mapping[str, bytes]) -> SignedZip:
    """Zip `members` (name -> bytes) with a manifest signed by the platform key."""
    clash = RESERVED & set(members)
    if clash:
        raise ValueError(f"members: {sorted(clash)[0]} is a reserved name")
    manifest = {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}
    manifest_text = "".join(f"{digest}  {name}\n" for name, digest in manifest.items()).encode()
    key = signing_key(settings)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr(MANIFEST, manifest_text)
        archive.writestr(SIGNATURE, key.sign(manifest_text).hex() + "\n")
        archive.writestr(PUBLIC_KEY, public + "\n")
    return SignedZip(
        zip=buffer.getvalue(), manifest=manifest, manifest_text=manifest_text, public_key=public
    )


def verify_signed_zip(data: bytes, *, public_key: str) -> list[str]:
    """Problems found in a signed ZIP (empty: every hash matches and the signature is valid)."""
    problems: list[str] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        return [f"not a ZIP file: {exc}"]
    with archive:
        names = set(archive.namelist())
        for needed in (MANIFEST, SIGNATURE):
            if needed not in names:
                return [f"{needed} is missing"]
        manifest_text = archive.read(MANIFEST)
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(
                bytes.fromhex(archive.read(SIGNATURE).decode().strip()), manifest_text
            )
        except (InvalidSignature, ValueError):
            problems.append("the manifest's signature does not match the platform key")
        listed: set[str] = set()
        for line in manifest_text.decode("utf-8", errors="replace").splitlines():
            digest, _, name = line.partition("  ")
            listed.add(name)
            if name not in names:
                problems.append(f"{name}: listed in the manifest but missing")
            elif hashlib.sha256(archive.read(name)).hexdigest() != digest:
                problems.append(f"{name}: changed since the export (SHA-256 differs)")
        extra = names - listed - RESERVED
        problems += [f"{name}: not in the manifest" for name in sorted(extra)]
    return problems
