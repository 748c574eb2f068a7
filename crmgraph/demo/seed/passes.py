"""One system's pass over the parties: in that system's own order, with duplicates created later on.

A system numbers its records as it meets the parties (see ids.py). A duplicate is typed in some time
after its original, so it is not written next to it: the projection asks for it to be created ``Later``,
at a drawn point of the rest of the pass, and then takes the next numbers. Only the party's index waits
in the queue; the party is drawn again when its duplicate is due.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from itertools import count
from typing import NamedTuple

from crmgraph.demo.seed.party import Party


class Later(NamedTuple):
    share: float  # when: a share of the rest of the pass, 0 right away .. 1 at its end
    what: str  # what to create then: "KNA1", "organization", "user"
    number: int = 0  # the person (1-based), for people
    owner: int | None = None  # the record it belongs to, numbered when the original was: an organization id


Project = Callable[[Party], list[Later]]
ProjectLater = Callable[[Party, Later], None]


def run_pass(
    system: str,
    order: list[int],
    draw: Callable[[int], Party],
    project: Project,
    project_later: ProjectLater,
    tick: Callable[[], None],
) -> None:
    """Project every party ``system`` knows, in ``order``; ``tick`` after each party."""
    due: list[tuple[int, int, int, Later]] = []  # (step, tie-breaker, party index, what)
    tie = count()
    last = len(order) - 1
    for step, index in enumerate(order):
        party = draw(index)
        if party.known_to(system):
            for later in project(party):
                heapq.heappush(due, (step + 1 + int(later.share * (last - step)), next(tie), index, later))
        while due and due[0][0] <= step:
            _, _, waiting, later = heapq.heappop(due)
            project_later(draw(waiting), later)
        tick()
    while due:
        _, _, waiting, later = heapq.heappop(due)
        project_later(draw(waiting), later)
