"""The seeded scenarios: id, the rule meant to catch each, when in its day, and how."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from demo_world.scenarios.context import Ctx, rule_id
from demo_world.scenarios.ldv import (
    bulk_record,
    partner_outside_agreement,
    unregistered_activity,
)
from demo_world.scenarios.portal import (
    account_many_sources,
    anonymising_login,
    changed_identities,
    credential_stuffing,
    enumeration,
    form_flood,
    form_too_fast,
    impossible_travel,
    session_new_client,
    shared_bank,
    shared_phone,
)
from demo_world.scenarios.records import (
    bulk_export,
    colleague_viewed,
    deactivated_account,
    many_residents,
    no_open_case,
    outside_hours,
    protected_viewed,
    record_type,
    relative_address,
    relative_surname,
    repeated_print,
    shared_account,
)
from demo_world.scenarios.systems import (
    backup_deleted,
    dns_tunnel,
    large_transfer,
    mail_forward,
    mass_writes,
    path_traversal,
    shadow_copies,
    sql_injection,
    xss,
)


@dataclass(frozen=True)
class Scenario:
    """One kind of misuse: its id, the rule meant to catch it, when in the day, how."""

    scenario_id: str
    rule: str
    hour: float
    build: Callable[[Ctx], None]
    description: str


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "S01",
        "portal_credential_stuffing",
        3.2,
        credential_stuffing,
        "40 accounts tried from one address in 8 minutes",
    ),
    Scenario(
        "S02",
        "portal_account_many_sources",
        4.1,
        account_many_sources,
        "one account tried from 12 addresses in 6 minutes",
    ),
    Scenario(
        "S03",
        "portal_impossible_travel",
        10.5,
        impossible_travel,
        "login at home, 40 minutes later from Sao Paulo",
    ),
    Scenario(
        "S04", "portal_anonymising_network_login", 22.3, anonymising_login, "login from a Tor exit"
    ),
    Scenario(
        "S05",
        "portal_session_new_client",
        13.4,
        session_new_client,
        "a resident's session used from another client and country",
    ),
    Scenario("S06", "form_flood", 2.5, form_flood, "60 form submissions in 4 minutes"),
    Scenario("S07", "form_filled_too_fast", 15.2, form_too_fast, "forms filled in one second"),
    Scenario(
        "S08",
        "form_shared_bank_account",
        11.0,
        shared_bank,
        "six energy subsidies paid to one bank account",
    ),
    Scenario(
        "S09", "form_shared_phone", 14.0, shared_phone, "six applications with one phone number"
    ),
    Scenario(
        "S10",
        "case_number_enumeration",
        1.3,
        enumeration,
        "80 case numbers probed from one address",
    ),
    Scenario(
        "S11",
        "form_changed_identities",
        16.5,
        changed_identities,
        "six assistance applications from one address under six identities",
    ),
    Scenario(
        "S12",
        "many_residents_viewed",
        11.2,
        many_residents,
        "an employee opens 60 population records in 15 minutes",
    ),
    Scenario(
        "S13",
        "view_without_open_case",
        10.1,
        no_open_case,
        "a record viewed without any case for the resident",
    ),
    Scenario(
        "S14", "colleague_record_viewed", 14.6, colleague_viewed, "a colleague's record viewed"
    ),
    Scenario("S15", "relative_same_address", 9.7, relative_address, "a housemate's record viewed"),
    Scenario(
        "S16",
        "relative_same_surname",
        15.8,
        relative_surname,
        "a namesake's record viewed without a case",
    ),
    Scenario(
        "S17",
        "protected_person_viewed",
        13.1,
        protected_viewed,
        "a protected person's record viewed",
    ),
    Scenario("S18", "bulk_export", 16.2, bulk_export, "2,500 care records exported"),
    Scenario(
        "S19", "repeated_export_print", 9.2, repeated_print, "25 records printed in 25 minutes"
    ),
    Scenario("S20", "access_outside_office_hours", 23.6, outside_hours, "a record viewed at night"),
    Scenario(
        "S21",
        "deactivated_or_shared_account",
        12.2,
        deactivated_account,
        "a departed employee's account used",
    ),
    Scenario(
        "S22",
        "deactivated_or_shared_account",
        10.8,
        shared_account,
        "the shared counter account used",
    ),
    Scenario(
        "S23",
        "record_type_not_permitted",
        11.7,
        record_type,
        "a permit officer opens a travel document record",
    ),
    Scenario(
        "S24", "large_outbound_transfer", 20.5, large_transfer, "3.4 GB sent to an address abroad"
    ),
    Scenario(
        "S25", "mail_forward_external", 7.4, mail_forward, "a mailbox forwarded to a gmail address"
    ),
    Scenario(
        "S26",
        "c947b146-0abc-4c87-9c64-b17e9d7274a2",
        2.1,
        shadow_copies,
        "shadow copies deleted with vssadmin (SigmaHQ rule)",
    ),
    Scenario(
        "S27",
        "89f75308-5b1b-4390-b2d8-d6b2340efaf8",
        2.15,
        backup_deleted,
        "backups deleted with wbadmin (SigmaHQ rule)",
    ),
    Scenario(
        "S28", "mass_file_writes", 2.3, mass_writes, "300 files rewritten as .lockbit in 90 seconds"
    ),
    Scenario("S29", "web_sql_injection", 3.7, sql_injection, "SQL injection on the portal"),
    Scenario("S30", "web_path_traversal", 3.9, path_traversal, "path traversal on the portal"),
    Scenario("S31", "web_xss", 4.4, xss, "cross-site scripting on the portal"),
    Scenario(
        "S32",
        "dns_tunnelling",
        21.1,
        dns_tunnel,
        "120 long random names under one domain in 4 minutes",
    ),
    Scenario(
        "S33",
        "ldv_partner_outside_agreement",
        11.4,
        partner_outside_agreement,
        "chain partner WIJ reads a tax assessment, outside its agreement (LDV)",
    ),
    Scenario(
        "S34",
        "ldv_bulk_record",
        14.3,
        bulk_record,
        "a tax batch over 1,800 residents as one LDV record",
    ),
    Scenario(
        "S35",
        "ldv_activity_not_registered",
        10.6,
        unregistered_activity,
        "the case system logs an activity version the register does not hold (LDV)",
    ),
)


def scenario_rule_id(scenario: Scenario) -> str:
    """SigmaHQ rules keep their own ids; ours are derived from the name."""
    return scenario.rule if "-" in scenario.rule else rule_id(scenario.rule)
