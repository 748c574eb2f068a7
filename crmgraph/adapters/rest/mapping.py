"""One entity's field map: an API record (JSON) to a canonical record, and canonical values back to JSON.

A record that does not map (its id or a required field absent, a value that does not read as its type)
raises :class:`MappingFailure`, an :class:`~crmgraph.errors.UpstreamBadResponse` that names the source,
entity, record id and field: the adapter puts it in that record's key's slot, never failing the batch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from crmgraph.adapters.rest import coerce
from crmgraph.adapters.rest.records import RECORDS, CanonicalField, canonical_fields
from crmgraph.adapters.rest.select import compiled, search
from crmgraph.adapters.rest.spec import EntitySpec, FieldSpec
from crmgraph.errors import UpstreamBadResponse
from crmgraph.records import Money, Record

PLAIN_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


class MappingFailure(UpstreamBadResponse):
    def __init__(self, source: str, entity: str, record_id: str | None, field: str, problem: str) -> None:
        super().__init__(source, f"{entity} {record_id or '(no id)'}: field {field}: {problem}")
        self.entity = entity
        self.record_id = record_id
        self.field = field
        self.problem = problem


class Mapper:
    def __init__(self, source: str, entity: str, spec: EntitySpec) -> None:
        self.source = source
        self.entity = entity
        self.spec = spec
        self.record = RECORDS[spec.record or entity]
        self.known = canonical_fields(self.record)
        self._id = compiled(spec.id)

    def raw_id(self, raw: object) -> str | None:
        """The record's id as text, or None when it has none that reads."""
        if not isinstance(raw, Mapping):
            return None
        value = self._id.search(raw)
        try:
            return coerce.text(value) if value is not None and value != "" else None
        except coerce.Unreadable:
            return None

    def __call__(self, raw: object, preset: Mapping[str, Any] | None = None) -> Record:
        """The canonical record of ``raw``; ``preset`` gives values of fields the record itself does not carry
        (the parent's key of a related listing)."""
        record_id = self.raw_id(raw)
        if record_id is None:
            value = self._id.search(raw) if isinstance(raw, Mapping) else raw
            raise MappingFailure(self.source, self.entity, None, "id", f"{self.spec.id} gives {value!r}, not an id")
        values: dict[str, Any] = {}
        for name, known in self.known.items():
            field = self.spec.fields.get(name)
            if field is None:
                given = (preset or {}).get(name)
                if given is not None:
                    values[name] = given
                elif known.needed:
                    values[name] = None  # needed but nullable: spec checks refused the rest
                continue
            try:
                value = self._read(raw, field, known)
            except coerce.Unreadable as problem:
                raise MappingFailure(self.source, self.entity, record_id, name, str(problem)) from None
            if value is None and (preset or {}).get(name) is not None:
                value = (preset or {})[name]
            if value is None and (field.required or (known.needed and not known.nullable)):
                raise MappingFailure(self.source, self.entity, record_id, name, f"{field.path} is absent")
            if value is not None or known.nullable:
                values[name] = value  # else the record's own default (points 0, tags ())
        return self.record(self.source, record_id, **values)

    def _read(self, raw: Any, field: FieldSpec, known: CanonicalField) -> Any:
        value = search(field.path, raw)
        if value == "":  # many APIs write "" for an unset field; a text field that must be there keeps it
            value = None if known.nullable or known.kind != "string" else ""
        if value is not None and field.map is not None:
            key = coerce.text(value) if not isinstance(value, bool) else str(value).lower()
            if key in field.map:
                value = field.map[key]
            elif known.kind == "enum":
                raise coerce.Unreadable(f"{value!r} is not one of {', '.join(field.map)} (the field's map)")
        if value is None:
            value = field.default
        if value is None:
            return None
        return self._typed(raw, value, field, known)

    def _typed(self, raw: Any, value: Any, field: FieldSpec, known: CanonicalField) -> Any:
        kind = known.kind
        if kind == "string":
            return coerce.text(value)
        if kind == "int":
            return coerce.whole(value)
        if kind == "decimal":
            return coerce.decimal(value)
        if kind == "bool":
            return coerce.flag(value)
        if kind == "datetime":
            return coerce.moment(value, field.format, field.timezone)
        if kind == "date":
            return coerce.day(value, field.format, field.timezone)
        if kind == "enum" and known.enum is not None:
            return coerce.member(value, known.enum)
        if kind == "list":
            return coerce.strings(value)
        if kind == "pairs":
            return coerce.pairs(value)
        currency = field.currency or search(field.currency_path or "`null`", raw)
        if not isinstance(currency, str) or not currency:
            raise coerce.Unreadable(f"an amount without a currency ({field.currency_path} gives {currency!r})")
        return Money(coerce.decimal(value), currency.upper())

    # --- writing ---------------------------------------------------------------------------------------

    def written(self, name: str, value: Any, to: str | None = None) -> tuple[str, Any]:
        """The body path and JSON value of canonical field ``name``; ValueError when it cannot be written."""
        field = self.spec.fields.get(name)
        known = self.known.get(name)
        if field is None or known is None:
            raise ValueError(f"{name} is not a field this source maps")
        if to is not None:
            field = field.model_copy(update={"path": to})
        if not PLAIN_PATH.match(field.path):
            raise ValueError(f"{name} is read through {field.path!r}, which cannot be written")
        if value is None:
            return field.path, None
        if isinstance(value, Money):
            value = value.amount
        if field.map is not None:
            canonical = str(value.value) if hasattr(value, "value") else str(value)
            back = {str(v): k for k, v in field.map.items()}
            if canonical in back:
                return field.path, back[canonical]
        if isinstance(value, datetime | date):
            return field.path, coerce.written_moment(value, field.format, field.timezone)
        writer = coerce.WRITERS.get(known.kind)
        return field.path, writer(value) if writer else value

    def upstream_name(self, upstream: str) -> str:
        """The canonical field whose path is ``upstream`` (an API's name for a field it refused), else itself."""
        for name, field in self.spec.fields.items():
            if field.path == upstream or field.path.split(".")[-1] == upstream:
                return name
        return upstream
