"""Reading a REST source's spec (a file or inline) and checking it whole, before the source opens.

Every problem names its key path inside the spec, after the source's own key::

    sources.marketing.spec: entities.person.fields.created_at.format: expected a strftime pattern or one of
    iso8601, epoch_s, epoch_ms, got 42
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from crmgraph.adapters.rest.records import RECORDS, RESERVED, canonical_fields
from crmgraph.adapters.rest.spec import Call, EntitySpec, RestSpec
from crmgraph.errors import ConfigError
from crmgraph.interpolation import interpolate

Problem = tuple[str, str]


def load_spec(source: str, settings: Mapping[str, Any]) -> RestSpec:
    """The spec of ``source``: ``settings["spec"]`` (a YAML file) or ``settings["api"]`` (inline)."""
    where = f"sources.{source}"
    if ("spec" in settings) == ("api" in settings):
        raise ConfigError(where, "a rest source needs `spec` (a YAML file describing the API) or `api` (inline)")
    if "spec" in settings:
        where, raw = f"{where}.spec", _read(f"{where}.spec", settings["spec"])
    else:
        where, raw = f"{where}.api", settings["api"]
    if not isinstance(raw, dict):
        raise ConfigError(where, f"expected a mapping with base_url and entities, got {type(raw).__name__}")
    env_problems: list[ConfigError] = []
    raw = interpolate(raw, "", env_problems, dict(os.environ))
    try:
        spec = RestSpec.model_validate(raw)
    except ValidationError as exc:
        problems = [(_location(error["loc"]), _message(error["msg"])) for error in exc.errors(include_url=False)]
    else:
        problems = list(spec_problems(spec))
    problems = [(problem.path, problem.message) for problem in env_problems] + problems
    if problems:
        text = "; also ".join(f"{path}: {message}" if path else message for path, message in problems)
        raise ConfigError(where, text)
    return spec


def _read(where: str, path: object) -> Any:
    if not isinstance(path, str) or not path:
        raise ConfigError(where, f"expected the path of a YAML file, got {path!r}")
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(where, f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise ConfigError(where, f"{path}{at}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _message(msg: str) -> str:
    if msg == "Extra inputs are not permitted":
        return "unknown key"
    return msg.removeprefix("Value error, ")


def spec_problems(spec: RestSpec) -> Iterator[Problem]:
    for name, entity in spec.entities.items():
        yield from _entity_problems(f"entities.{name}", name, entity)


def _entity_problems(at: str, name: str, entity: EntitySpec) -> Iterator[Problem]:
    record_name = entity.record or name
    if record_name not in RECORDS:
        key = "record" if entity.record else ""
        yield f"{at}.{key}".rstrip("."), f"no canonical record {record_name!r}; known: {', '.join(RECORDS)}"
        return
    known = canonical_fields(RECORDS[record_name])
    for field_name, field in entity.fields.items():
        where = f"{at}.fields.{field_name}"
        canonical = known.get(field_name)
        if canonical is None:
            why = "is set from the record's id (`id`)" if field_name in RESERVED else f"of {record_name} records"
            yield where, f"not a field {why}; known: {', '.join(known)}"
            continue
        if field.type is not None and field.type != canonical.kind:
            yield f"{where}.type", f"{field_name} of {record_name} is {canonical.kind}, not {field.type}"
        if canonical.kind == "money" and not (field.currency or field.currency_path):
            yield where, "an amount needs `currency` (an ISO 4217 code) or `currency_path`"
        if canonical.enum is not None and field.map is not None:
            bad = [str(v) for v in field.map.values() if str(v) not in {m.value for m in canonical.enum}]
            if bad:
                yield f"{where}.map", f"{', '.join(bad)} not among {', '.join(canonical.enum)}"
        if field.format is not None and canonical.kind not in ("datetime", "date"):
            yield f"{where}.format", f"a format applies to datetime and date fields, not {canonical.kind}"
    # A field a related listing sets from its parent's key (a comment's ticket_id) needs no path.
    given = set(entity.fields) | {related.key_field for related in entity.related.values() if related.key_field}
    missing = [name for name, field in known.items() if field.needed and not field.nullable and name not in given]
    if missing:
        yield f"{at}.fields", f"{record_name} records need {', '.join(missing)}: map them"
    yield from _call_problems(at, entity, known)


def _needs(where: str, call: Call | None, *names: str) -> Iterator[Problem]:
    if call is not None and not any(call.mentions(name) for name in names):
        either = " or ".join("{" + name + "}" for name in names)
        yield where, f"the path or a parameter must hold {either}"


def _call_problems(at: str, entity: EntitySpec, known: Mapping[str, object]) -> Iterator[Problem]:
    yield from _needs(f"{at}.get", entity.get, "id")
    yield from _needs(f"{at}.get_many", entity.get_many, "ids")
    yield from _needs(f"{at}.changes", entity.changes, "since")
    yield from _needs(f"{at}.search", entity.search, "query")
    yield from _needs(f"{at}.update", entity.update, "id")
    for by, related in entity.related.items():
        where = f"{at}.related.{by}"
        yield from _needs(where, related, "key", "keys")
        if related.key_field is not None and related.key_field not in known:
            yield f"{where}.key_field", f"not a field of the record; known: {', '.join(known)}"
        if related.mentions("keys") and related.members is not None:
            yield f"{where}.members", "a membership is listed one parent a call: use {key}, not {keys}"
        elif related.mentions("keys") and related.key_field is None:
            yield where, "a call for many parents needs key_field: the field that says whose each record is"
        elif related.mentions("keys") and related.key_field in known and related.key_field not in entity.fields:
            yield (
                f"{where}.key_field",
                (
                    f"{related.key_field} must also be mapped under fields: a call for many parents reads whose each "
                    "record is from the record itself"
                ),
            )
        if related.members is not None and entity.get is None and entity.get_many is None:
            yield f"{where}.members", "members are fetched by id: the entity needs get or get_many"
    for action, write in (("create", entity.create), ("update", entity.update)):
        for field_name in write.paths if write is not None else ():
            if field_name not in known:
                yield f"{at}.{action}.paths.{field_name}", f"not a field of the record; known: {', '.join(known)}"
        for link, field_name in write.links.items() if write is not None else ():
            if field_name not in known:
                yield f"{at}.{action}.links.{link}", f"{field_name!r} is not a field of the record"
