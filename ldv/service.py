"""The LDV domain's public functions (the only door for dashboard/ and dijkwacht/)."""

from __future__ import annotations

from ldv.checks import check_streams
from ldv.partners import (
    PartnerInput,
    export_context,
    get_partner,
    list_partners,
    partner_names,
    save_partner,
    set_stream,
    streams,
)
from ldv.read_api import check_request, read
from ldv.stats import (
    PartnerView,
    activity_volumes,
    evidence_csv,
    partner_view,
)

__all__ = [
    "PartnerInput",
    "PartnerView",
    "activity_volumes",
    "check_request",
    "check_streams",
    "evidence_csv",
    "export_context",
    "get_partner",
    "list_partners",
    "partner_names",
    "partner_view",
    "read",
    "save_partner",
    "set_stream",
    "streams",
]
