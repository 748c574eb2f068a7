"""A draft REST source spec from an API's OpenAPI 3 document (``crmgraph adapters new NAME --from-openapi``).

A draft, to be edited: the document says which collections and items exist, what their answers look like,
how they page and how calls are signed; it cannot say which of its words mean a customer. So entities are
recognised by the collection's name (``/companies`` is a party, ``/contacts`` a person), fields by the
property's name (``createdAt``, ``dateAdded`` and ``created_at`` are ``created_at``), and what could not be
recognised is listed in the draft's header for the author to settle.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crmgraph.adapters.rest.records import RECORDS, canonical_fields
from crmgraph.scaffold.names import AdapterNames

# A collection's last word -> the canonical entity it holds.
ENTITY_WORDS = {
    "party": ("parties", "party", "companies", "company", "organizations", "organisations", "organization",
              "accounts", "customers", "clients", "debtors"),
    "person": ("contacts", "contact", "people", "persons", "person", "users", "members"),
    "lead": ("leads",),
    "deal": ("deals", "opportunities"),
    "ticket": ("tickets", "cases", "issues", "requests"),
    "comment": ("comments", "notes"),
    "order": ("orders", "salesorders"),
    "invoice": ("invoices", "bills"),
    "campaign": ("campaigns",),
    "segment": ("segments", "lists"),
    "owner": ("owners",),
}  # fmt: skip
# A canonical field -> property names that usually hold it (compared without case, "_" or "-").
FIELD_WORDS = {
    "name": ("name", "companyname", "fullname", "displayname", "title", "subject"),
    "first_name": ("firstname", "givenname"),
    "last_name": ("lastname", "surname", "familyname"),
    "email": ("email", "emailaddress", "mail", "companyemail"),
    "phone": ("phone", "phonenumber", "telephone", "mobile", "companyphone"),
    "domain": ("domain", "website", "web", "url", "companywebsite"),
    "country": ("country", "countrycode", "companycountry"),
    "city": ("city", "town", "companycity"),
    "postal_code": ("postalcode", "zip", "zipcode", "postcode", "companyzipcode"),
    "address": ("address", "street", "address1", "companyaddress1"),
    "tax_id": ("taxid", "vatid", "vatnumber", "vat"),
    "industry": ("industry", "companyindustry"),
    "job_title": ("jobtitle", "position", "role"),
    "party_id": ("organizationid", "companyid", "accountid", "customerid", "partyid"),
    "owner_id": ("ownerid", "assigneeid"),
    "created_at": ("createdat", "created", "dateadded", "createdon", "creationdate"),
    "updated_at": ("updatedat", "updated", "datemodified", "modifiedat", "lastmodified"),
    "description": ("description", "body", "text"),
    "status": ("status", "state"),
    "points": ("points", "score"),
    "tags": ("tags",),
}
OFFSET_PARAMS = ("offset", "start", "skip")
PAGE_PARAMS = ("page", "pagenumber")
SIZE_PARAMS = ("limit", "perpage", "pagesize", "size", "count", "top")
CURSOR_PARAMS = ("cursor", "after", "pagetoken", "nextpagetoken", "starting_after", "startingafter")
IDS_PARAMS = ("ids", "id")


def _word(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def read_openapi(path: Path) -> dict[str, Any]:
    """The document at ``path`` (JSON or YAML); ValueError with what is wrong when it is not OpenAPI 3."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"--from-openapi: cannot read {path}: {exc.strerror}") from None
    try:
        document = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"--from-openapi: {path} is neither JSON nor YAML: {exc}") from None
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3"):
        raise ValueError(f"--from-openapi: {path} is not an OpenAPI 3 document (no `openapi: 3.x` at the top)")
    if not isinstance(document.get("paths"), dict) or not document["paths"]:
        raise ValueError(f"--from-openapi: {path} has no `paths`")
    return document


@dataclass
class Draft:
    document: Mapping[str, Any]
    notes: list[str] = field(default_factory=list)

    def resolve(self, node: Any) -> Any:
        """``node`` with a ``$ref`` to ``#/components/...`` followed (one level at a time, cycles cut)."""
        seen: set[str] = set()
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and node["$ref"] not in seen:
            seen.add(node["$ref"])
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, Mapping) else {}
            node = target
        return node

    def answer_schema(self, operation: Mapping[str, Any]) -> Mapping[str, Any]:
        responses = operation.get("responses") or {}
        ok = self.resolve(responses.get("200") or responses.get(200) or responses.get("default") or {})
        content = (ok.get("content") or {}) if isinstance(ok, Mapping) else {}
        media = next((value for key, value in content.items() if "json" in key), None) or {}
        schema = self.resolve(media.get("schema") or {})
        return schema if isinstance(schema, Mapping) else {}


def _select_list(draft: Draft, schema: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """Where an answer holds its records, and the schema of one record."""
    if schema.get("type") == "array":
        return "@", draft.resolve(schema.get("items") or {})
    for name, prop in (schema.get("properties") or {}).items():
        prop = draft.resolve(prop)
        if prop.get("type") == "array":
            return name, draft.resolve(prop.get("items") or {})
        keyed = draft.resolve(prop.get("additionalProperties") or {})
        if prop.get("type") == "object" and isinstance(keyed, Mapping) and keyed.get("properties"):
            return f"values({name} || `{{}}`)", keyed  # records keyed by id in an object
    return "@", {}


def _select_item(draft: Draft, schema: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    properties = schema.get("properties") or {}
    if "id" in properties or not properties:
        return "@", schema
    for name, prop in properties.items():  # an envelope: {"contact": {...}}
        prop = draft.resolve(prop)
        if prop.get("type") == "object" and "id" in (prop.get("properties") or {}):
            return name, prop
    return "@", schema


def _flat_properties(draft: Draft, schema: Mapping[str, Any], prefix: str = "", depth: int = 0) -> Iterator[str]:
    """Dotted paths of the record's properties, nested objects included (Mautic's ``fields.all.email``)."""
    for name, prop in (schema.get("properties") or {}).items():
        prop = draft.resolve(prop)
        path = f"{prefix}{name}" if re.fullmatch(r"[A-Za-z_]\w*", name) else f'{prefix}"{name}"'
        if prop.get("type") == "object" and prop.get("properties") and depth < 2:
            yield from _flat_properties(draft, prop, f"{path}.", depth + 1)
        else:
            yield path


def _fields(draft: Draft, entity: str, record: str, schema: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    known = canonical_fields(RECORDS[record])
    paths = list(_flat_properties(draft, schema))
    by_word: dict[str, str] = {}
    for path in sorted(paths, key=lambda dotted: dotted.count(".")):  # the shallowest property of a name wins
        by_word.setdefault(_word(path.rsplit(".", 1)[-1]), path)
    found: dict[str, dict[str, str]] = {}
    for name, canonical in known.items():
        where = next((by_word[w] for w in FIELD_WORDS.get(name, (name,)) if w in by_word), None)
        if where is None and _word(name) in by_word:
            where = by_word[_word(name)]
        if where is not None:
            found[name] = {"path": where}
        elif canonical.needed and not canonical.nullable:
            found[name] = {"path": f"TODO_{name}"}
            draft.notes.append(f"entities.{entity}.fields.{name}: no property looked like it; set its path")
    return found


def _paging(draft: Draft, operation: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any] | None:
    params = {_word(p.get("name", "")): p.get("name") for p in map(draft.resolve, operation.get("parameters") or [])}
    size = next((params[w] for w in SIZE_PARAMS if w in params), None)
    sized: dict[str, Any] = {"size_param": size} if size else {}
    largest = draft.resolve(_parameter(draft, operation, size).get("schema") or {}).get("maximum") if size else None
    if isinstance(largest, int) and largest >= 1:
        sized["max_size"] = largest
    answer_words = {_word(name): name for name in (answer.get("properties") or {})}
    total = next((answer_words[w] for w in ("total", "totalcount", "count") if w in answer_words), None)
    counted = {"total": total} if total else {}
    if (offset := next((params[w] for w in OFFSET_PARAMS if w in params), None)) is not None:
        return {"style": "offset", "offset_param": offset, **sized, **counted}
    if (page := next((params[w] for w in PAGE_PARAMS if w in params), None)) is not None:
        return {"style": "page", "page_param": page, **sized, **counted}
    if (cursor := next((params[w] for w in CURSOR_PARAMS if w in params), None)) is not None:
        following = next((name for word, name in answer_words.items() if "next" in word), None)
        if following is None:
            draft.notes.append(f"paging by {cursor}: say where the answer holds the next cursor (`next`)")
        return {"style": "cursor", "cursor_param": cursor, "next": following or "TODO_next_cursor", **sized}
    return None


def _parameter(draft: Draft, operation: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    found = (draft.resolve(p) for p in operation.get("parameters") or [])
    return next((p for p in found if p.get("name") == name), {})


def _max_items(draft: Draft, operation: Mapping[str, Any], name: str) -> int | None:
    """The most values a list parameter takes (``maxItems``), where the document says."""
    schema = draft.resolve(_parameter(draft, operation, name).get("schema") or {})
    most = schema.get("maxItems")
    return most if isinstance(most, int) and most >= 1 else None


def _operations(document: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for path, item in sorted((document.get("paths") or {}).items()):
        if isinstance(item, Mapping) and isinstance(item.get("get"), Mapping):
            yield (
                path,
                {**item["get"], "parameters": [*(item.get("parameters") or []), *item["get"].get("parameters", [])]},
            )


def _entity_of(segment: str) -> str | None:
    word = _word(segment)
    return next((entity for entity, words in ENTITY_WORDS.items() if word in words), None)


def draft_entities(draft: Draft) -> dict[str, dict[str, Any]]:
    entities: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Mapping[str, Any]] = {}
    unknown: list[str] = []
    for path, operation in _operations(draft.document):
        segments = [s for s in path.strip("/").split("/") if s]
        literal = [s for s in segments if not s.startswith("{")]
        if not literal:
            continue
        entity = _entity_of(literal[-1])
        if entity is None:
            unknown.append(path)
            continue
        spec = entities.setdefault(entity, {})
        answer = draft.answer_schema(operation)
        if segments[-1].startswith("{") and len(literal) == len(segments) - 1:  # /contacts/{id}
            select, schema = _select_item(draft, answer)
            spec["get"] = {"path": re.sub(r"\{[^}]+\}$", "{id}", path), "select": select}
        elif any(s.startswith("{") for s in segments):  # /companies/{id}/contacts: a parent's records
            parent = _entity_of(literal[-2]) if len(literal) >= 2 else None
            if parent is None:
                unknown.append(path)
                continue
            select, schema = _select_list(draft, answer)
            spec.setdefault("related", {})[parent] = {"path": re.sub(r"\{[^}]+\}", "{key}", path, count=1),
                                                      "select": select}  # fmt: skip
        else:  # /contacts: the collection
            select, schema = _select_list(draft, answer)
            spec["list"] = {"path": path, "select": select}
            if (paging := _paging(draft, operation, answer)) is not None:
                spec["list"]["paging"] = paging
            params = [draft.resolve(p).get("name", "") for p in operation.get("parameters") or []]
            if ids := next((p for p in params if _word(p) in IDS_PARAMS), None):
                spec["get_many"] = {"path": path, "params": {ids: "{ids}"}, "select": select}
                if (most := _max_items(draft, operation, ids)) is not None:
                    spec["get_many"]["max_batch"] = most
            for name in params:  # ?party_ids=1,2,3: the records of many parents in one call
                parent = _entity_of(_word(name).removesuffix("ids")) if _word(name).endswith("ids") else None
                if parent is not None and parent != entity:
                    spec.setdefault("related", {})[parent] = {
                        "path": path, "params": {name: "{keys}"}, "key_field": f"{parent}_id", "select": select,
                    }  # fmt: skip
                    if (most := _max_items(draft, operation, name)) is not None:
                        spec["related"][parent]["max_batch"] = most
        if schema and entity not in schemas:
            schemas[entity] = schema
    for entity, spec in entities.items():
        record = entity
        spec["fields"] = _fields(draft, entity, record, schemas.get(entity, {}))
        if "get" not in spec and "get_many" not in spec:
            draft.notes.append(f"entities.{entity}: no call reads one record by id; add `get` or `get_many`")
    if unknown:
        draft.notes.append(
            "not recognised as a canonical entity (add them by hand if they matter): " + ", ".join(unknown)
        )
    return entities


def _auth(document: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    for scheme in schemes.values():
        kind, where = scheme.get("type"), scheme.get("scheme", "").lower()
        if kind == "http" and where == "bearer":
            return {"type": "bearer", "token": f"${{{prefix}_TOKEN}}"}
        if kind == "http" and where == "basic":
            return {"type": "basic", "username": f"${{{prefix}_USERNAME}}", "password": f"${{{prefix}_PASSWORD}}"}
        if kind == "apiKey" and scheme.get("in") in ("header", "query"):
            return {"type": "api_key", "name": scheme.get("name", "X-Api-Key"), "in": scheme["in"],
                    "value": f"${{{prefix}_API_KEY}}"}  # fmt: skip
        flow = (scheme.get("flows") or {}).get("clientCredentials") if kind == "oauth2" else None
        if flow and flow.get("tokenUrl"):
            return {"type": "oauth2", "token_url": flow["tokenUrl"], "client_id": f"${{{prefix}_CLIENT_ID}}",
                    "client_secret": f"${{{prefix}_CLIENT_SECRET}}"}  # fmt: skip
    return {"type": "none"}


def draft_spec(document: Mapping[str, Any], names: AdapterNames) -> str:
    """The draft as YAML text, with what is left to decide listed in its header."""
    draft = Draft(document)
    prefix = names.kind.upper()
    servers = document.get("servers") or [{}]
    server = str(servers[0].get("url") or "http://127.0.0.1:8300")
    entities = draft_entities(draft)
    if not entities:
        raise ValueError(
            "--from-openapi: no path looked like a collection of customers, people, deals, tickets, orders, "
            "invoices or campaigns; write the spec by hand (docs/rest-sources.md)"
        )
    spec = {"base_url": f"${{{prefix}_URL:-{server}}}", "auth": _auth(document, prefix), "entities": entities}
    title = (document.get("info") or {}).get("title") or names.title
    header = [
        f"# {title}: drafted by `crmgraph adapters new {names.name} --from-openapi`; edit before use.",
        "# Every key: docs/rest-sources.md. Check it against the live API: crmgraph check-config --probe.",
    ]
    if draft.notes:
        header += ["#", "# Left to decide:"] + [f"#  - {note}" for note in draft.notes]
    return "\n".join(header) + "\n" + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=120)
