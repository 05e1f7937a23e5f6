"""The collectors' second facade: the process side, for the command line's `collect`, `up`,
`ingest` and `hunt`.

`collectors.service` is what pages, tasks and other domains call, and stays light to import
(the dashboard imports it). The listeners, the spool consumer and the EVTX and capture file
readers are here instead: they pull in the servers, the tailers and the readers' libraries, and
only a collector process or a command reading files needs them. Like the service, this module
lists its public names in `__all__` (tests/test_reachable_services.py) and is a door the
composition roots may use (tests/test_import_contract.py). Scapy itself is imported only when
a capture is read (`collectors.packets`, 0.3-0.75 s).
"""

from __future__ import annotations

from collectors.consumer import SpoolConsumer
from collectors.evtx import read_evtx, read_evtx_file
from collectors.packets import read_capture
from collectors.runtime import run_collect

__all__ = [
    "SpoolConsumer",
    "read_capture",
    "read_evtx",
    "read_evtx_file",
    "run_collect",
]
