"""Scoring where people were filed: is each person's golden customer the company they truly work for?

Pair scores (:mod:`crmgraph.identity.evaluate`) say whether records were put together; this says whether a
person (a CRM contact, a ticket requester, a marketing lead) ended up under the right customer, the link a
lead's ``customer`` and a customer's people are read from. Per person record of the truth: *predicted*
when the store files its golden person under a customer, *true* when its party is a customer the store
knows (some record of the party is linked), *correct* when the customer it was filed under holds a record
of its party. Counted per system, so the marketing system's leads have a line of their own.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from crmgraph.identity.evaluate import PairScore, SourceRecord


def read_person_parties(path: Path) -> dict[SourceRecord, str]:
    """(system, source id) -> the party the person truly works for ("" when none), from the truth file."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {(row["system"], row["source_id"]): row["party"] for row in csv.DictReader(handle) if row["person"]}


def score_filing(
    person_customers: Mapping[SourceRecord, int | None],
    company_customers: Mapping[SourceRecord, int],
    company_truth: Mapping[SourceRecord, str],
    person_parties: Mapping[SourceRecord, str],
) -> list[PairScore]:
    """One score for all people, then one per system (scope: ``people in <system>``)."""
    customers_of_party: defaultdict[str, set[int]] = defaultdict(set)
    for record, party in company_truth.items():
        if record in company_customers:
            customers_of_party[party].add(company_customers[record])
    counts: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # predicted, true, correct
    for record, party in person_parties.items():
        filed = person_customers.get(record)
        known = bool(party) and bool(customers_of_party.get(party))
        for scope in ("all people", f"people in {record[0]}"):
            tally = counts[scope]
            tally[0] += filed is not None
            tally[1] += known
            tally[2] += filed is not None and known and filed in customers_of_party[party]
    return [PairScore(scope, *tally) for scope, tally in sorted(counts.items(), key=lambda i: i[0] != "all people")]
