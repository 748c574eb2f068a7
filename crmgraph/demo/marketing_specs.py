"""What each marketing collection lets a client order by, filter on and search (see :mod:`marketing_query`)."""

from __future__ import annotations

from crmgraph.demo.marketing_query import ListSpec


def _both(*names: tuple[str, str]) -> dict[str, str]:
    """Mautic takes a column as in the response (camelCase) or in snake_case; both map to the SQL column."""
    columns: dict[str, str] = {}
    for api_name, column in names:
        columns[api_name] = column
        columns[column] = column
    return columns


_PRIMARY_COMPANY = (
    "(SELECT CAST(cc.company_id AS TEXT) FROM contact_companies cc"
    " WHERE cc.contact_id = contacts.id AND cc.is_primary = 1)"
)
_STAMPS = (("dateAdded", "date_added"), ("dateModified", "date_modified"))

CONTACTS = ListSpec(
    "contacts",
    _both(
        ("id", "id"),
        *_STAMPS,
        ("lastActive", "last_active"),
        ("dateIdentified", "date_identified"),
        ("email", "email"),
        ("firstname", "firstname"),
        ("lastname", "lastname"),
        ("company", "company"),
        ("points", "points"),
        ("owner", "owner_id"),
        ("stage", "stage_id"),
        ("country", "country"),
        ("city", "city"),
        ("isPublished", "is_published"),
    )
    # The demo's extension (beside ``primaryCompany``): the contacts of many companies in one call,
    # ``where[0][col]=companyId&where[0][expr]=in&where[0][val]=1,2,3``.
    | {"companyId": _PRIMARY_COMPANY, "company_id": _PRIMARY_COMPANY},
    frozenset({"date_added", "date_modified", "last_active", "date_identified"}),
    ("firstname", "lastname", "email", "company"),
    {
        "email": ("email",),
        "company": ("company",),
        "name": ("firstname", "lastname"),
        "firstname": ("firstname",),
        "lastname": ("lastname",),
        "phone": ("phone", "mobile"),
    },
    published="is_published",
    # Mautic's search command segment:<alias>: the contacts in the segment of that alias (how the API lists a
    # segment's contacts; Mautic has no /segments/{id}/contacts).
    memberships={
        "segment": "id IN (SELECT m.lead_id FROM segment_leads m JOIN segments s ON s.id = m.segment_id"
        " WHERE s.alias = ? COLLATE NOCASE)"
    },
)
COMPANIES = ListSpec(
    "companies",
    _both(
        ("id", "id"),
        *_STAMPS,
        ("companyname", "name"),
        ("companycity", "city"),
        ("companycountry", "country"),
        ("companywebsite", "website"),
        ("companyemail", "email"),
    ),
    frozenset({"date_added", "date_modified"}),
    ("name", "website", "email"),
    {"companyname": ("name",), "name": ("name",), "companywebsite": ("website",), "companyemail": ("email",)},
)
CAMPAIGNS = ListSpec(
    "campaigns",
    _both(
        ("id", "id"),
        *_STAMPS,
        ("name", "name"),
        ("publishUp", "publish_up"),
        ("publishDown", "publish_down"),
        ("category", "category_id"),
        ("isPublished", "is_published"),
    ),
    frozenset({"date_added", "date_modified", "publish_up", "publish_down"}),
    ("name", "description"),
    {"name": ("name",)},
    published="is_published",
)
SEGMENTS = ListSpec(
    "segments",
    _both(("id", "id"), *_STAMPS, ("name", "name"), ("alias", "alias")),
    frozenset({"date_added", "date_modified"}),
    ("name", "alias"),
    {"name": ("name",), "alias": ("alias",)},
)
EMAILS = ListSpec(
    "emails",
    _both(("id", "id"), ("dateAdded", "date_added"), ("name", "name"), ("subject", "subject")),
    frozenset({"date_added"}),
    ("name", "subject"),
    {"name": ("name",)},
)
STAGES = ListSpec("stages", _both(("id", "id"), ("name", "name"), ("weight", "weight")), frozenset(), ("name",))
