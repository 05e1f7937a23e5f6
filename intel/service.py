"""Intel's facade: what the dashboard, the command line and other packages call.

Importing feeds, listing, expiring and sharing indicators live in `intel.indicators` and
`intel.sharing`; the work that opens its own units of work sits above them and is exposed here
too: `import_and_hunt` and `hunt_keys` (`intel.flows`: read a feed, store it, retro-hunt what it
added) and `IntelStream` (`intel.stream`: matching on ingest, after the rules). Those modules
build on the lower ones, never on this facade, so the facade can name them without a cycle.
"""

from __future__ import annotations

from intel.alerting import RULE_ID
from intel.feeds import is_url
from intel.flows import ImportOutcome, hunt_keys, import_and_hunt
from intel.indicators import expire, list_indicators, overview
from intel.schemas import FORMATS
from intel.sharing import export_incident
from intel.stream import IntelStream
from intel.values import TYPES

__all__ = [
    "FORMATS",
    "RULE_ID",
    "TYPES",
    "ImportOutcome",
    "IntelStream",
    "expire",
    "export_incident",
    "hunt_keys",
    "import_and_hunt",
    "is_url",
    "list_indicators",
    "overview",
]
