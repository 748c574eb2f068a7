"""How the ERP records a party: debtor master, sales orders with lines, invoices and their payments."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from crmgraph.demo.seed import timefmt
from crmgraph.demo.seed import vocabulary as vocab
from crmgraph.demo.seed.address_noise import ERP_HABIT, record_address
from crmgraph.demo.seed.ids import Ids, sap_number
from crmgraph.demo.seed.noise import Noise, case_spacing, name_case, phone_as_recorded, typo
from crmgraph.demo.seed.onboarding import erp_opened
from crmgraph.demo.seed.party import AS_OF, Party, Person, random_instant, skewed, stream
from crmgraph.demo.seed.passes import Later
from crmgraph.demo.seed.sink import SqlSink, TruthSink
from crmgraph.demo.stores.erp import BSAD, KNA1, KNVK, VBAK, VBAP, VBRK

CENT = Decimal("0.01")
TAX_RATES = {"CN": "0.13", "DE": "0.19", "GB": "0.20", "FR": "0.20", "US": "0", "SG": "0.09", "JP": "0.10"}
PAYMENT_TERMS = ("NT30", "NT45", "NT60", "0001")


def _debtor(party: Party, rng: random.Random, duplicate: bool) -> tuple[dict[str, object], list[Noise]]:
    noise: list[Noise] = [Noise.DUPLICATE] if duplicate else []
    name = party.name
    if duplicate or rng.random() < 0.15:
        name = case_spacing(rng, name).strip() or party.name
        noise.append(Noise.CASE_SPACING)
    if rng.random() < (0.3 if duplicate else 0.04):
        name = typo(rng, name)
        noise.append(Noise.TYPO)
    phone: str | None
    phone, reformatted = phone_as_recorded(rng, party.phone, "national", 0.1)
    if rng.random() < 0.15:
        phone = None
        noise.append(Noise.MISSING_PHONE)
    elif reformatted:
        noise.append(Noise.PHONE_FORMAT)
    email: str | None = party.email
    if rng.random() < 0.35:
        email = None
        noise.append(Noise.MISSING_EMAIL)
    elif rng.random() < 0.1:
        email = party.email.upper()
        noise.append(Noise.EMAIL_CASE)
    tax_id: str | None = party.tax_id
    if rng.random() < 0.1:
        tax_id = None
        noise.append(Noise.MISSING_TAX_ID)
    url: str | None = f"www.{party.domain}"
    if rng.random() < 0.5:
        url = None
        noise.append(Noise.MISSING_DOMAIN)
    address = record_address(rng, party.address, ERP_HABIT, scale=2.0 if duplicate else 1.0)
    noise += address.noise
    row: dict[str, object] = {
        "MANDT": "100",
        "NAME1": name[:80],
        "NAME2": None,
        "LAND1": party.place.country,
        "ORT01": address.city or None,
        "PSTLZ": address.postcode or None,
        "STRAS": address.street or None,
        "TELF1": phone,
        "SMTP_ADDR": email,
        "STCD1": tax_id,
        "BRSCH": party.industry[1],
        "KNURL": url,
        "WAERS": party.place.currency,
        "LOEVM": "",
    }
    return row, noise


def _contact_person(person: Person, rng: random.Random) -> tuple[dict[str, object], list[Noise]]:
    """A KNVK row's own fields: a clerk's entry, national phone format, e-mail often left out or in capitals."""
    noise: list[Noise] = []
    first, last = person.first_name, person.last_name
    if person.chinese:
        roll = rng.random()
        if roll < 0.3:
            first, last = person.first_latin, person.last_latin.upper()
            noise.append(Noise.NAME_SCRIPT)
        elif roll < 0.4:
            first, last = last, first
            noise.append(Noise.NAME_ORDER)
        elif roll < 0.48:
            first, last = "", f"{last}{first}"
            noise.append(Noise.NAME_SPLIT)
    else:
        if rng.random() < 0.03:
            last = typo(rng, last)
            noise.append(Noise.TYPO)
        if rng.random() < 0.1:
            last = last.upper() if rng.random() < 0.8 else name_case(rng, last)
            noise.append(Noise.CASE_SPACING)
    phone: str | None
    phone, reformatted = phone_as_recorded(rng, person.phone, "national", 0.1)
    if rng.random() < 0.3:
        phone = None
        noise.append(Noise.MISSING_PHONE)
    elif reformatted:
        noise.append(Noise.PHONE_FORMAT)
    email: str | None = person.email
    if rng.random() < 0.4:
        email = None
        noise.append(Noise.MISSING_EMAIL)
    elif rng.random() < 0.25:
        email = person.email.upper()
        noise.append(Noise.EMAIL_CASE)
    department, function = vocab.ERP_FUNCTIONS[person.job_title]
    row: dict[str, object] = {
        "MANDT": "100",
        "NAMEV": first or None,
        "NAME1": last,
        "TELF1": phone,
        "SMTP_ADDR": email,
        "ABTNR": department,
        "PAFKT": function if rng.random() < 0.7 else None,
    }
    return row, noise


def _never_changed(erdat: str) -> dict[str, str]:
    """The change stamp of a master record never changed since it was created: its creation date (the seed
    keeps no creation time for master data, so midnight). Derived from what was drawn, drawing nothing."""
    return {"ZZAEDAT": erdat, "ZZAEZET": "000000"}


def _contact_people(party: Party, rng: random.Random) -> list[Person]:
    """The people a debtor's record names: its buyers and accounts payable first, for most debtors 1-3."""
    if rng.random() >= 0.6:
        return []
    wanted = rng.choice((1, 1, 1, 2, 2, 3))
    ranked = rng.sample(party.persons, len(party.persons))
    ranked.sort(key=lambda p: vocab.ERP_FUNCTIONS[p.job_title][0] not in vocab.ERP_CONTACT_DEPARTMENTS)
    return ranked[:wanted]


def project_erp(party: Party, seed: int, ids: Ids, sink: SqlSink, truth: TruthSink) -> list[Later]:
    rng = stream(seed, party.index, "erp")
    opened = erp_opened(rng, party.since)  # first: a duplicate draws it again
    kunnr = sap_number(ids.erp_customer())
    row, noise = _debtor(party, rng, duplicate=False)
    xref = str(ids.crm_company(party.index)) if party.in_crm and rng.random() < 0.2 else None
    erdat = timefmt.sap_date(opened)
    sink.add(KNA1, row | {"KUNNR": kunnr, "ERDAT": erdat, "ZZCRMID": xref} | _never_changed(erdat))
    truth.add(party.key, "", "erp", "KNA1", kunnr, noise, xref or "")
    for person in _contact_people(party, rng):
        parnr = sap_number(ids.erp_contact())
        person_row, person_noise = _contact_person(person, rng)
        added = timefmt.sap_date(random_instant(rng, opened))
        sink.add(KNVK, person_row | {"PARNR": parnr, "KUNNR": kunnr, "ERDAT": added} | _never_changed(added))
        truth.add(party.key, person.key, "erp", "KNVK", parnr, person_noise)
    # A debtor is opened for a customer who buys: at least one order.
    orders = rng.randint(400, 2000) if party.whale else 1 + skewed(rng, 11, 1500)
    for _ in range(orders):
        _order(rng, ids, party, kunnr, opened, sink)
    return [Later(rng.random(), "KNA1")] if "erp" in party.duplicated_in else []


def project_erp_later(party: Party, later: Later, seed: int, ids: Ids, sink: SqlSink, truth: TruthSink) -> None:
    """A second debtor for the party, opened after the first, with a few orders of its own."""
    opened = erp_opened(stream(seed, party.index, "erp"), party.since)
    rng = stream(seed, party.index, "erp-duplicate")
    kunnr = sap_number(ids.erp_customer())
    row, noise = _debtor(party, rng, duplicate=True)
    dup_opened = random_instant(rng, opened)
    erdat = timefmt.sap_date(dup_opened)
    sink.add(KNA1, row | {"KUNNR": kunnr, "ERDAT": erdat, "ZZCRMID": None} | _never_changed(erdat))
    truth.add(party.key, "", "erp", "KNA1", kunnr, noise)
    for _ in range(rng.randint(0, 3)):
        _order(rng, ids, party, kunnr, dup_opened, sink)


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def _order(rng: random.Random, ids: Ids, party: Party, kunnr: str, since: datetime, sink: SqlSink) -> None:
    vbeln = sap_number(ids.erp_order())
    currency = party.place.currency
    placed = random_instant(rng, since)
    age = AS_OF - placed
    if rng.random() < 0.03:
        status, rejected = "A", "C"
    elif age > timedelta(days=60):
        status, rejected = ("C" if rng.random() < 0.93 else "B"), ""
    else:
        status, rejected = rng.choice("AABBC"), ""
    net = Decimal(0)
    for position in range(1, 2 + skewed(rng, 1.5, 20)):
        material, text, unit, usd = rng.choice(vocab.PRODUCTS)
        quantity = Decimal(rng.randint(1, 50))
        price = _money(usd / vocab.USD_PER_UNIT[currency] * rng.uniform(0.9, 1.1))
        line_net = (price * quantity).quantize(CENT)
        net += line_net
        sink.add(
            VBAP,
            {"VBELN": vbeln, "POSNR": f"{position * 10:06d}", "MATNR": material, "ARKTX": text,
             "KWMENG": quantity, "VRKME": unit, "NETPR": price, "NETWR": line_net, "WAERK": currency},
        )  # fmt: skip
    sink.add(
        VBAK,
        {"VBELN": vbeln, "ERDAT": timefmt.sap_date(placed), "ERZET": timefmt.sap_time(placed), "AUART": "TA",
         "KUNNR": kunnr, "NETWR": net, "WAERK": currency, "BSTNK": f"PO-{rng.randrange(10**5, 10**6)}",
         "VDATU": timefmt.sap_date(placed + timedelta(days=rng.randint(3, 30))), "GBSTK": status,
         "ABSTK": rejected, "ZZAEDAT": timefmt.sap_date(placed), "ZZAEZET": timefmt.sap_time(placed)},
    )  # fmt: skip
    if status == "C" and not rejected:
        _invoice(rng, ids, party, kunnr, vbeln, placed, net, sink)


def _invoice(
    rng: random.Random,
    ids: Ids,
    party: Party,
    kunnr: str,
    order: str,
    placed: datetime,
    net: Decimal,
    sink: SqlSink,
) -> None:
    invoice = sap_number(ids.erp_invoice())
    billed = min(AS_OF, placed + timedelta(days=rng.randint(1, 20)))
    tax = (net * Decimal(TAX_RATES[party.place.country])).quantize(CENT)
    currency = party.place.currency
    sink.add(
        VBRK,
        {"VBELN": invoice, "FKART": "F2", "FKDAT": timefmt.sap_date(billed), "KUNRG": kunnr, "NETWR": net,
         "MWSBK": tax, "WAERK": currency, "ZTERM": rng.choice(PAYMENT_TERMS), "ZZAUBEL": order, "FKSTO": ""},
    )  # fmt: skip
    gross = net + tax
    overdue = AS_OF - billed > timedelta(days=45)
    roll = rng.random()
    if roll < (0.88 if overdue else 0.4):
        payments = [gross]
    elif roll < (0.93 if overdue else 0.5):
        payments = [(gross * Decimal(rng.choice(("0.3", "0.5", "0.7")))).quantize(CENT)]
    else:
        payments = []
    for amount in payments:
        paid = min(AS_OF, billed + timedelta(days=rng.randint(5, 60)))
        sink.add(
            BSAD,
            {"BELNR": sap_number(ids.erp_payment()), "GJAHR": str(paid.year), "KUNNR": kunnr,
             "VBELN": invoice, "BUDAT": timefmt.sap_date(paid), "WRBTR": amount, "WAERS": currency,
             "ZLSCH": rng.choice("TCU")},
        )  # fmt: skip
