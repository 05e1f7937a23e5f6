"""pySigma without downloads: its ATT&CK data comes from our local build, D3FEND is skipped.

pySigma's ATT&CK tag validator and its Elastic backends read `sigma.data.mitre_attack`, which
downloads MITRE's bundle from GitHub unless pointed elsewhere, and caches it (diskcache) under
~/.cache/pysigma. `configure_sigma_attack_offline()` points both the source and the cache at
local paths. There is no local D3FEND data: its validator must be left out (use
`offline_sigma_validators()`); its source is pointed at a file that does not exist, so anything
that still asks fails at once with "Failed to load MITRE D3FEND data" instead of going online.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sigma.data import mitre_attack, mitre_d3fend

from detection.attack_data import ensure_attack_files

D3FEND_UNAVAILABLE = "d3fend-not-available-offline.json"


def configure_sigma_attack_offline(*, cache_dir: Path, attack_dir: Path | None = None) -> Path:
    """Point pySigma's ATT&CK data at the local build; return the file it will read.

    Args:
        cache_dir: where pySigma's diskcache lives, e.g. `settings.resolved_data_dir / "cache" /
            "pysigma"` (never the home directory).
        attack_dir: the build directory (default: the install-time one, built if missing).

    The setting is process-wide (module state in pySigma); calling again re-points it.
    """
    files = ensure_attack_files(attack_dir=attack_dir)
    # The cache dir first: set_url() clears (and so creates) the cache in the current dir.
    mitre_attack.set_cache_dir(str(cache_dir / "mitre_attack"))
    mitre_attack.set_url(str(files.sigma))
    mitre_d3fend.set_cache_dir(str(cache_dir / "mitre_d3fend"))
    mitre_d3fend.set_url(str(files.directory / D3FEND_UNAVAILABLE))
    return files.sigma


def offline_sigma_validators(validators: Mapping[str, Any]) -> dict[str, Any]:
    """The given pySigma validators (identifier -> class) without those that need the network.

    Pass e.g. `InstalledSigmaPlugins.autodiscover().validators`; the D3FEND tag validator is
    removed because no D3FEND data ships with Dijkwacht.
    """
    from sigma.validators.core.tags import D3FENDTagValidator  # noqa: PLC0415 - pySigma validators: +56 ms

    return {
        name: validator
        for name, validator in validators.items()
        if not (isinstance(validator, type) and issubclass(validator, D3FENDTagValidator))
    }
