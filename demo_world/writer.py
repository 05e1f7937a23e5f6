"""`Writer`: what a normal day and a seeded scenario share to put raw lines in their files."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from typing import Concatenate, ParamSpec

from demo_world import formats as fmt
from demo_world.formats import Record

P = ParamSpec("P")


class Writer:
    """Collects records; ``write`` builds a line with a format builder and files it by builder."""

    records: list[Record]
    scenario: str | None

    def add(self, moment: datetime, file: str, text: str) -> None:
        self.records.append(Record(moment, file, text, self.scenario))

    def write(
        self,
        build: Callable[Concatenate[datetime, P], str],
        moment: datetime,
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        """``build(moment, ...)`` into the file that builder's lines go to."""
        self.add(moment, fmt.FILE_OF[build], build(moment, *args, **kwargs))


def session_id(rng: random.Random) -> str:
    """A new portal session id drawn from the seeded generator."""
    return f"s-{rng.getrandbits(48):012x}"
