"""When each system first recorded a party: a date of its own, drawn from that system's own stream.

A party's relationship starts at ``since``, but no two systems meet it at the same moment: the CRM has
it as a lead before the first deal, the ERP opens a debtor when the first order is booked (or moved the
older ones in at its go-live migration), the ticket system creates an organization when the customer
first asks for help, and not before the ticket system itself went live. Creation dates are therefore
only loosely related across systems, as in a real estate, and do not pair records up.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from crmgraph.demo.seed.party import AS_OF, HISTORY

START = AS_OF - HISTORY
ERP_GO_LIVE = START + timedelta(days=40)  # older debtors were migrated over that weekend
TICKETS_GO_LIVE = AS_OF - timedelta(days=2 * 365)
DAY = 86_400


def _before_today(rng: random.Random, moment: datetime) -> datetime:
    if moment >= AS_OF - timedelta(days=1):
        moment = AS_OF - timedelta(seconds=rng.randrange(DAY, 30 * DAY))
    return moment.replace(microsecond=0)


def crm_created(rng: random.Random, since: datetime) -> datetime:
    """A lead entered some months before the relationship; the oldest were imported when the CRM came in."""
    moment = since - timedelta(days=rng.expovariate(1 / 120))
    if moment < START:
        moment = START + timedelta(seconds=rng.randrange(3 * DAY))
    return _before_today(rng, moment)


def erp_opened(rng: random.Random, since: datetime) -> datetime:
    """A debtor opened for the first order, now and then much later; older ones at the go-live migration."""
    if rng.random() < 0.85:
        moment = since + timedelta(days=rng.expovariate(1 / 60))
    else:
        moment = since + (AS_OF - since) * rng.random()
    if moment < ERP_GO_LIVE:
        moment = ERP_GO_LIVE + timedelta(seconds=rng.randrange(2 * DAY))
    return _before_today(rng, moment)


def tickets_created(rng: random.Random, since: datetime) -> datetime:
    """An organization created at the customer's first request, after the ticket system went live."""
    moment = since + timedelta(days=rng.expovariate(1 / 150))
    if moment < TICKETS_GO_LIVE:
        moment = TICKETS_GO_LIVE + timedelta(days=rng.expovariate(1 / 60))
    return _before_today(rng, moment)
