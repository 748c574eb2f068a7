"""When each deal entered each stage of its pipeline: HubSpot's calculated ``hs_date_entered_{stageId}``.

HubSpot stamps ``hs_date_entered_<stage>`` (read-only, readable like any property) each time a deal enters a
stage. The demo keeps these stamps among the deal's stored properties once a write has moved the deal
(:func:`entered_on_write`); a seeded deal has none stored (the seed and its pinned rows stay as they are), so
its history is derived, deterministically, from what the row holds (:func:`derived_stage_dates`) until a
write changes the deal, which first stores that history (:func:`settle_history`):

- every deal entered the pipeline's first stage when it was created (``createdate``);
- an open deal in the pipeline's stage *k* went through the stages before it, evenly spaced between its
  creation and its last update (when it reached stage *k*);
- a won deal went through every open stage, evenly spaced from its creation, and entered ``closedwon`` at its
  ``closedate``;
- a lost deal went through the open stages up to one picked by its id (``id`` modulo the number of open
  stages), evenly spaced from its creation, and entered ``closedlost`` at its ``closedate``.

The pipeline is the demo's ``default`` one, served as HubSpot's pipelines API shows it (:func:`pipelines_json`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime

from crmgraph.demo.seed.crm_projection import DEAL_STAGES_OPEN

PREFIX = "hs_date_entered_"
PIPELINE_ID = "default"
PIPELINE_STAGES = (*DEAL_STAGES_OPEN, "closedwon", "closedlost")
_LABELS = {
    "appointmentscheduled": "Appointment Scheduled",
    "qualifiedtobuy": "Qualified To Buy",
    "presentationscheduled": "Presentation Scheduled",
    "contractsent": "Contract Sent",
    "closedwon": "Closed Won",
    "closedlost": "Closed Lost",
}
_PROBABILITY = {"closedwon": "1.0", "closedlost": "0.0"}


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _format(moment: datetime) -> str:
    # An f-string rather than isoformat(): every deal a read answers formats several of these.
    m = moment.astimezone(UTC)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond // 1000:03d}Z"
    )


def is_stage_date(name: str) -> bool:
    return name.startswith(PREFIX)


def has_history(stored: Mapping[str, object]) -> bool:
    """Whether a write has stored the deal's stage dates (otherwise they are derived)."""
    return any(name.startswith(PREFIX) for name in stored)


def _spread(stages: tuple[str, ...], start: datetime, end: datetime) -> dict[str, str]:
    """``stages`` entered in order, the first at ``start`` and the last at ``end``, evenly spaced."""
    if len(stages) == 1 or end <= start:
        return {f"{PREFIX}{stage}": _format(start) for stage in stages}
    span, last = end - start, len(stages) - 1
    return {f"{PREFIX}{stage}": _format(start + span * index / last) for index, stage in enumerate(stages)}


def derived_stage_dates(
    object_id: int, stage: str | None, created: str, updated: str, closedate: str | None
) -> dict[str, str]:
    """The stage dates of a deal no write has moved, from its row (see the module)."""
    return dict(_derived(object_id, stage, created, updated, closedate))


# Deriving costs tens of microseconds a deal and the same deals are read again and again (a customer's 360,
# a benchmark's loop): remembered by everything they depend on, so a changed row derives afresh.
@functools.lru_cache(maxsize=65_536)
def _derived(
    object_id: int, stage: str | None, created: str, updated: str, closedate: str | None
) -> tuple[tuple[str, str], ...]:
    if stage is None:
        return ()
    start = _parse(created)
    if stage in DEAL_STAGES_OPEN:
        reached = DEAL_STAGES_OPEN[: DEAL_STAGES_OPEN.index(stage) + 1]
        return tuple(_spread(reached, start, max(start, _parse(updated))).items())
    if stage not in ("closedwon", "closedlost") or closedate is None:
        return ()  # a stage outside the pipeline, or a closed deal without a close date: nothing to derive
    last_open = len(DEAL_STAGES_OPEN) - 1 if stage == "closedwon" else object_id % len(DEAL_STAGES_OPEN)
    closed = max(start, _parse(closedate))
    # The open stages spread over the time before the close, the closing stage at the close itself.
    return tuple(_spread((*DEAL_STAGES_OPEN[: last_open + 1], stage), start, closed).items())


def stage_dates(object_id: int, stored: Mapping[str, object], created: str, updated: str) -> dict[str, str]:
    """The deal's ``hs_date_entered_*`` values: the stored ones, or those derived from its row."""
    if has_history(stored):
        return {name: str(value) for name, value in stored.items() if is_stage_date(name)}
    stage, closedate = stored.get("dealstage"), stored.get("closedate")
    return derived_stage_dates(
        object_id,
        stage if isinstance(stage, str) and stage else None,
        created,
        updated,
        closedate if isinstance(closedate, str) and closedate else None,
    )


def settle_history(object_id: int, stored: dict[str, object], created: str, updated: str) -> None:
    """Before a write changes a deal (and its last update): store the history its row implies, so that the
    write moves no stage date it does not set."""
    if not has_history(stored):
        stored.update(stage_dates(object_id, stored, created, updated))


def entered_on_write(stored: dict[str, object], stamp: str) -> None:
    """After a write set a deal's ``dealstage``: the deal entered that stage at ``stamp``."""
    stage = stored.get("dealstage")
    if isinstance(stage, str) and stage:
        stored[f"{PREFIX}{stage}"] = stamp


def pipelines_json() -> dict[str, object]:
    """``GET /crm/v3/pipelines/deals``: the demo's one deal pipeline, its stages in order."""
    epoch = "2020-01-01T00:00:00.000Z"
    stages = [
        {
            "id": stage,
            "label": _LABELS[stage],
            "displayOrder": order,
            "metadata": {"isClosed": "true" if stage in _PROBABILITY else "false",
                         "probability": _PROBABILITY.get(stage, f"{0.2 * (order + 1):.1f}")},
            "createdAt": epoch,
            "updatedAt": epoch,
            "archived": False,
        }
        for order, stage in enumerate(PIPELINE_STAGES)
    ]  # fmt: skip
    pipeline = {
        "id": PIPELINE_ID,
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "stages": stages,
        "createdAt": epoch,
        "updatedAt": epoch,
        "archived": False,
    }
    return {"results": [pipeline]}
