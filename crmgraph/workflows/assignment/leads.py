"""Lead distribution: a new lead is claimed once (of every instance), decided by the rules, written into
the CRM as the owner of the lead's contact, recorded with its explanation, audited and announced.

The CRM write: a contact with the lead's name, e-mail, phone and job title and ``owner_id``; when the CRM
already holds a contact with that e-mail (HubSpot's 409 "Contact already exists. Existing ID: N"), that
contact's owner is set instead. The store's row is moved to ``assigning`` (version-checked) *before* the
CRM is written and to ``assigned`` after: whoever changed the row in between (a manager) wins, and their
owner is written again, so that the CRM ends with it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from crmgraph import records
from crmgraph.adapters.sdk.writes import WriteOp
from crmgraph.errors import CrmgraphError
from crmgraph.events import Entity
from crmgraph.workflows.assignment.acting import ASSIGNED, WORKFLOW, Acting
from crmgraph.workflows.assignment.clock import Clock
from crmgraph.workflows.assignment.lead_rules import LeadFacts, Step, choose_rep, choose_team, language_of, region_of
from crmgraph.workflows.assignment.settings import LeadRules
from crmgraph.workflows.assignment.store import AssignmentStore, LeadRow

log = logging.getLogger("crmgraph.workflows.assignment")
_EXISTING = re.compile(r"Existing ID: (\d+)")
STUCK_AFTER = timedelta(seconds=30)  # a claim not finished this long is taken over by the SLA job
# CRM changes that are the assignment itself, not a rep's touch of the contact.
NOT_A_TOUCH = frozenset({"owner_id", "hubspot_owner_id", "lastmodifieddate", "hs_lastmodifieddate"})


@dataclass(frozen=True)
class Manual:
    owner_id: str
    actor: str
    roles: tuple[str, ...]
    reason: str


class LeadDistributor:
    def __init__(self, rules: LeadRules, store: AssignmentStore, acting: Acting, clock: Clock) -> None:
        self.rules = rules
        self.store = store
        self.acting = acting
        self.clock = clock

    # --- what starts an assignment -----------------------------------------------------------------------

    async def new_lead(self, lead_id: str) -> LeadRow | None:
        """Assign a lead of the lead source; once, whichever instance hears of it first."""
        source = self.rules.source
        if await self.store.claim_lead(source, lead_id, self.clock.now()):
            row = await self.store.lead(source, lead_id)
            if row is not None:
                return await self._assign(row, trigger="new lead")
        return await self.store.lead(source, lead_id)

    async def reassign(self, lead_id: str, manual: Manual) -> LeadRow | None:
        """A manager's choice: it wins over the rules, and the SLA job leaves the lead alone after it."""
        source = self.rules.source
        await self.store.claim_lead(source, lead_id, self.clock.now())  # a lead the rules never saw: claimed now
        for _ in range(5):  # the row may move under us (the SLA job, another manager): read it again
            row = await self.store.lead(source, lead_id)
            if row is None:
                return None
            done = await self._assign(row, trigger="manual", manual=manual)
            if done is not None:
                return done
        return await self.store.lead(source, lead_id)

    async def touched(self, crm_id: str, changed: tuple[str, ...]) -> None:
        """A change of a CRM contact by someone: its lead was touched, the first-touch SLA is met."""
        if not set(changed) - NOT_A_TOUCH:
            return
        row = await self.store.lead_by_crm(crm_id)
        if row is not None and not row.touched and row.state == "assigned":
            await self.store.set_lead(row.source, row.lead_id, row.version, touched=True)

    async def sweep(self) -> list[LeadRow]:
        """Reassign the leads past their first-touch SLA, and finish the claims left unfinished."""
        now = self.clock.now()
        done: list[LeadRow] = []
        for row in await self.store.overdue(now, now - STUCK_AFTER):
            late = row.state == "assigned"
            result = await self._assign(row, trigger="sla" if late else "retry",
                                        exclude=tuple([*row.history, row.owner_id or ""]) if late else ())  # fmt: skip
            if result is not None:
                done.append(result)
        return done

    # --- the assignment ----------------------------------------------------------------------------------

    async def _facts(self, lead: records.LeadRecord) -> LeadFacts:
        industry = None
        if lead.party_id:
            adapter = self.acting.adapters[self.rules.source]
            found = (await adapter.fetch("party", [lead.party_id]))[0]
            if isinstance(found, records.PartyRecord):
                industry = found.industry
        return LeadFacts(country=lead.country, industry=industry, tags=lead.tags)

    async def _lead(self, lead_id: str) -> records.LeadRecord | None:
        found = (await self.acting.adapters[self.rules.source].fetch("person", [lead_id]))[0]
        if isinstance(found, Exception):
            raise found
        return found if isinstance(found, records.LeadRecord) else None

    async def _assign(self, row: LeadRow, trigger: str, exclude: tuple[str, ...] = (),
                      manual: Manual | None = None) -> LeadRow | None:  # fmt: skip
        """None when the row moved on meanwhile (someone else acts on it)."""
        source, now = self.rules.source, self.clock.now()
        try:
            lead = await self._lead(row.lead_id)
        except CrmgraphError:
            log.exception("lead %s of %s could not be read; the SLA job tries again", row.lead_id, source)
            await self.store.set_lead(source, row.lead_id, row.version, state="failed")
            return await self.store.lead(source, row.lead_id)
        if lead is None:
            await self.store.set_lead(source, row.lead_id, row.version, state="failed",
                                      explanation={"why": "the lead is not in the marketing system"})  # fmt: skip
            return await self.store.lead(source, row.lead_id)
        facts = await self._facts(lead)
        explanation = self._explain(facts, trigger)
        if manual is not None:
            owner, team = manual.owner_id, row.team
            step = Step("manual", [owner], {}, f"reassigned by {manual.actor}" + (f": {manual.reason}"
                                                                                 if manual.reason else ""))  # fmt: skip
            explanation |= {"rule": "manual", "team": team, "candidates": [owner], "chosen": owner,
                            "why": step.note, "steps": [step.as_dict()]}  # fmt: skip
        else:
            chosen_team, first = choose_team(self.rules, facts)
            loads = await self.store.open_leads([rep.owner_id for rep in chosen_team.members])
            turn = await self.store.next_turn(chosen_team.name)
            rep, steps = choose_rep(self.rules, chosen_team, facts, now, loads, turn, exclude)
            owner, team = rep.owner_id, chosen_team.name
            last = steps[-1]
            explanation |= {"rule": "sla" if trigger == "sla" else last.rule, "team": team,
                            "candidates": steps[-2].kept if len(steps) > 1 else [owner], "chosen": owner,
                            "why": last.note, "steps": [first.as_dict(), *(s.as_dict() for s in steps)]}  # fmt: skip
        history = [*row.history, row.owner_id] if row.owner_id and row.owner_id != owner else list(row.history)
        claimed = await self.store.set_lead(
            source, row.lead_id, row.version, state="assigning", owner_id=owner, team=team,
            rule=explanation["rule"], manual=manual is not None, touched=False, explanation=explanation,
            history=history,
        )  # fmt: skip
        if not claimed:
            return None
        version = row.version + 1
        subject = manual.actor if manual is not None else WORKFLOW
        operation = "leadReassign" if manual is not None else "leadAssign"
        try:
            crm_id = await self._write_owner(lead, row.crm_id, owner, f"{source}:{row.lead_id}:v{version}", subject)
        except CrmgraphError as error:
            log.warning("the owner of lead %s could not be written to the CRM (%s); the SLA job tries again",
                        row.lead_id, error)  # fmt: skip
            await self.store.set_lead(source, row.lead_id, version, state="failed")
            self.acting.audited(subject, operation, ("Lead.owner",), outcome=type(error).__name__,
                                roles=manual.roles if manual else ())  # fmt: skip
            return await self.store.lead(source, row.lead_id)
        due = now + timedelta(seconds=self.rules.first_touch_sla_s)
        done = await self.store.set_lead(source, row.lead_id, version, state="assigned", crm_id=crm_id,
                                         assigned_at=now, due_at=due)  # fmt: skip
        current = await self.store.lead(source, row.lead_id)
        if not done and current is not None and current.owner_id and current.crm_id:
            # Someone (a manager) moved the lead while this write was on its way: theirs is the last word.
            await self._write_owner(lead, current.crm_id, current.owner_id,
                                    f"{source}:{row.lead_id}:v{current.version}:again", WORKFLOW)  # fmt: skip
            return current
        self.acting.audited(subject, operation, ("Lead.owner",), roles=manual.roles if manual else ())
        await self.acting.notify(source, Entity.PERSON, row.lead_id, ASSIGNED)
        return current

    def _explain(self, facts: LeadFacts, trigger: str) -> dict[str, Any]:
        return {
            "trigger": trigger,
            "at": self.clock.now().isoformat(),
            "lead": {"country": facts.country, "region": region_of(self.rules, facts.country),
                     "language": language_of(self.rules, facts.country), "industry": facts.industry,
                     "tags": list(facts.tags)},
        }  # fmt: skip

    async def _write_owner(self, lead: records.LeadRecord, crm_id: str | None, owner: str, key: str,
                           subject: str) -> str:  # fmt: skip
        """The CRM contact's id after its owner is set (the contact made when the CRM has none)."""
        crm = self.rules.crm
        if crm_id is None:
            values: dict[str, Any] = {name: getattr(lead, name) for name in
                                      ("first_name", "last_name", "email", "phone", "job_title")
                                      if getattr(lead, name)}  # fmt: skip
            values["owner_id"] = owner
            op = WriteOp("person", "create", values, idempotency_key=f"assignment:{key}")
            written = await self.acting.write(crm, op, f"assignment:{key}", "leadAssign",
                                              {"lead": lead.source_id, **{k: str(v) for k, v in values.items()}},
                                              subject)  # fmt: skip
            if written.record is not None:
                return written.record.source_id
            holder = next((m.group(1) for r in written.refusals if (m := _EXISTING.search(r.message))), None)
            if holder is None:
                raise _Refused(crm, "; ".join(r.message for r in written.refusals) or str(written.problem))
            crm_id = holder
        op = WriteOp("person", "update", {"owner_id": owner}, record_id=crm_id)
        written = await self.acting.write(crm, op, f"assignment:{key}:owner", "leadAssign",
                                          {"contact": crm_id, "owner": owner}, subject)  # fmt: skip
        if written.record is None:
            raise _Refused(crm, "; ".join(r.message for r in written.refusals) or str(written.problem))
        return crm_id


class _Refused(CrmgraphError):
    def __init__(self, source: str, said: str) -> None:
        super().__init__(f"{source} refused the owner: {said}")
