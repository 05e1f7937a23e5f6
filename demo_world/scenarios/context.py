"""What every scenario is handed: its randomness, the people, its moment and its records."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from demo_world import formats as fmt
from demo_world.formats import Client, Record
from demo_world.population import SYSTEM_OF, Employee, Population, Resident
from demo_world.writer import Writer, session_id

BOT_AGENT = "python-requests/2.32.3"


def rule_id(name: str) -> str:
    """The id of a shipped rule by its file stem (ids are uuid5 of the name, fixed forever)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dijkwacht:rule:{name}"))


@dataclass
class Ctx(Writer):
    """What a scenario needs: randomness, the people, when, and where records go."""

    rng: random.Random
    pop: Population
    start: datetime
    scenario: str | None
    records: list[Record]

    def resident(self) -> Resident:
        return self.pop.residents[self.rng.randrange(len(self.pop.residents))]

    def worker(self, role: str = "medewerker-burgerzaken") -> Employee:
        return self.rng.choice(self.pop.workers(role))

    def spread(self, n: int, seconds: float) -> list[datetime]:
        """``n`` moments evenly over ``seconds`` from the start."""
        return [self.start + timedelta(seconds=seconds * i / n) for i in range(n)]

    def client(self, account: str, ip: str, agent: str, session: str | None = None) -> Client:
        """A portal client; without ``session``, in a new session drawn from the seed."""
        return Client(account, ip, agent, session or session_id(self.rng))

    def audit(self, moment: datetime, employee: Employee, **fields: object) -> None:
        record_type = str(fields.pop("record_type", "persoonslijst"))
        self.write(
            fmt.app_audit,
            moment,
            system=SYSTEM_OF[record_type],
            actor=employee.employee_id,
            actor_role=employee.role,
            department=employee.department,
            record_type=record_type,
            result="success",
            **fields,
        )
