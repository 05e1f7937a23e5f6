"""The compliance domain's public face: what routes, commands and the beat task call.

Every function here is reached from a dashboard route, a `dijkwacht compliance` command or
the `compliance.check` task; the modules behind it stay internal to the package.
"""

from compliance.catalogue import CatalogueError, editions, load_catalogue
from compliance.checks import SCHEDULER
from compliance.report import (
    FORMATS,
    Report,
    build_report,
    evidence_package,
    record_package_export,
    verify_package,
)
from compliance.schemas import STATUSES, Catalogue
from compliance.status import (
    ALERT_RULE_ID,
    CheckRun,
    Evaluation,
    MeasureView,
    canonical_sha256,
    check_catalogue,
    evaluate_measures,
    evidence_document,
    last_checked,
    measure_view,
    measure_views,
    record_outcomes,
    run_checks,
)
from core.signed_zip import public_key_hex

__all__ = [
    "ALERT_RULE_ID",
    "FORMATS",
    "SCHEDULER",
    "STATUSES",
    "Catalogue",
    "CatalogueError",
    "CheckRun",
    "Evaluation",
    "MeasureView",
    "Report",
    "build_report",
    "canonical_sha256",
    "check_catalogue",
    "editions",
    "evaluate_measures",
    "evidence_document",
    "evidence_package",
    "last_checked",
    "load_catalogue",
    "measure_view",
    "measure_views",
    "public_key_hex",
    "record_outcomes",
    "record_package_export",
    "run_checks",
    "verify_package",
]
