"""Source ids of seeded records, and the order in which each system meets the parties.

Real systems number records as they are created, and no two systems create a customer's records in the
same order. So each system here visits the parties in an order of its own (a keyed shuffle of the party
indexes, keyed by the seed and the system) and numbers its records with plain counters in that order:
ids are dense and stable for a seed, rows go into the stores in key order (fast), and sorting two
systems' ids does not pair their records up. A duplicate takes its numbers later in the pass, as if typed
in later (passes.py), so that it is not numbered next to its original either.

Ids that another system refers to (CRM companies and contacts, named in the ERP's ``ZZCRMID`` and in
Zendesk's ``external_id``) are a keyed permutation of a slot computed from (party index, seed), so that
any one system can be generated alone (``load-erp``) and still name the right CRM record. The CRM visits
its parties in company-id order, so that its companies, too, are written in key order.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from itertools import count

CRM_COMPANY_BASE = 4_100_000_000
CRM_COMPANY_BITS = 30  # slots 2 * party index (+1 for the duplicate)
CRM_CONTACT_BASE = 1_000_000
CRM_CONTACT_BITS = 31  # below the company range: the ground truth keys records by (system, id)
CONTACT_SLOTS = 64  # per party: people 1..31, their duplicates 33..63
DUPLICATE_SLOT = 32
CRM_OWNER_BASE = 50_000_001


class Scramble:
    """A keyed permutation of ``[0, 2**bits)``: rounds of odd multiply-add and xor-shift, each invertible."""

    __slots__ = ("mask", "rounds", "shift")

    def __init__(self, key: str, bits: int) -> None:
        rng = random.Random(f"ids:{key}")
        self.mask = (1 << bits) - 1
        self.shift = (bits + 1) // 2
        self.rounds = tuple((rng.getrandbits(bits) | 1, rng.getrandbits(bits)) for _ in range(3))

    def __call__(self, n: int) -> int:
        if not 0 <= n <= self.mask:
            raise ValueError(f"{n} is outside the id range of {self.mask + 1:,} values: the estate is too large")
        mask, shift = self.mask, self.shift
        for multiplier, offset in self.rounds:
            n = (n * multiplier + offset) & mask
            n ^= n >> shift
        return n


def _counter(start: int) -> Callable[[], int]:
    return count(start).__next__


class Ids:
    """Every id an estate of one seed hands out; each counter advances only in its own system's pass."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._company = Scramble(f"{seed}:crm.company", CRM_COMPANY_BITS)
        self._contact = Scramble(f"{seed}:crm.contact", CRM_CONTACT_BITS)
        self.crm_deal = _counter(9_000_000_001)
        self.crm_engagement = _counter(20_000_000_001)
        self.zd_organization = _counter(360_000_000_001)
        self.zd_user = _counter(370_000_000_001)
        self.zd_ticket = _counter(1)
        self.zd_comment = _counter(380_000_000_001)
        self.erp_customer = _counter(100_001)
        self.erp_contact = _counter(50_000_001)
        self.erp_order = _counter(1_000_001)
        self.erp_invoice = _counter(90_000_001)
        self.erp_payment = _counter(1_400_000_001)

    def crm_company(self, party_index: int, duplicate: bool = False) -> int:
        return CRM_COMPANY_BASE + self._company(2 * party_index + int(duplicate))

    def crm_contact(self, party_index: int, person_number: int, duplicate: bool = False) -> int:
        if not 0 < person_number < DUPLICATE_SLOT:
            raise ValueError(f"person number {person_number} has no CRM contact slot")
        slot = party_index * CONTACT_SLOTS + person_number + (DUPLICATE_SLOT if duplicate else 0)
        return CRM_CONTACT_BASE + self._contact(slot)

    def visiting_order(self, system: str, customers: int) -> list[int]:
        """The party indexes in the order ``system`` meets (and numbers) them."""
        if system == "crm":
            return sorted(range(customers), key=self.crm_company)
        order = list(range(customers))
        random.Random(f"order:{self.seed}:{system}").shuffle(order)
        return order


def sap_number(value: int) -> str:
    """SAP keeps document numbers as 10 zero-padded characters."""
    return f"{value:010d}"
