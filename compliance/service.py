"""The compliance domain's public face: what routes, commands and the beat task call.

Every function here is reached from a dashboard route, a `dijkwacht compliance` command or
the `compliance.check` task; the modules behind it stay internal to the package.
"""

from compliance.catalogue import editions, load_catalogue
from compliance.checks import SCHEDULER
from compliance.report import (
    build_report,
    evidence_package,
    record_package_export,
    verify_package,
)
from compliance.schemas import STATUSES
from compliance.status import (
    CheckRun,
    check_catalogue,
    evaluate_measures,
    last_checked,
    measure_view,
    measure_views,
    record_outcomes,
    run_checks,
)
from core.signed_zip import public_key_hex

__all__ = [
    "SCHEDULER",
    "STATUSES",
    "CheckRun",
    "build_report",
    "check_catalogue",
    "editions",
    "evaluate_measures",
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
