"""Field policies in the schema: a denied field answers null with ``FORBIDDEN``, a masked one its masked
value, and a personal-data field notes its read for the audit trail.

Only the fields some role denies or masks, or the audit configuration names, are wrapped, when the schema
is built for a configuration: every other field resolves exactly as it did, at no cost. A wrapped field
costs one dict lookup in the request's :class:`~crmgraph.policy.roles.Access` (decided once for the
request) and, when audited, one set insert. A wrapped field that reads an attribute (a contact's ``email``)
is still read without a resolver call where the request's roles leave it clear: the walk calls the guard's
``inline`` form, which notes the read (:mod:`crmgraph.schema.plain_fields`). Names are checked against the
schema when it is built, so a misspelt ``Type.field`` is a configuration error at start, not a policy that
silently does nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from inspect import isawaitable
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLString,
    default_field_resolver,
)

from crmgraph.errors import ConfigError, Forbidden
from crmgraph.policy.masking import mask
from crmgraph.policy.roles import PolicyConfig, Visibility

Resolver = Callable[..., Any]
GUARDED: Any = object()  # what a guard read inline answers when the field must be resolved by its guard


def guard_fields(schema: GraphQLSchema, policy: PolicyConfig, audited: Iterable[str] = ()) -> None:
    """Wrap the resolvers of the fields ``policy`` denies or masks, and of the ``audited`` ones."""
    audited = frozenset(audited)
    named: dict[str, str] = {}  # Type.field -> where the configuration names it (for errors)
    for role_name, role in policy.roles.items():
        for key in role.deny:
            named.setdefault(key, f"policy.roles.{role_name}.deny")
            _check_deniable(schema, key, f"policy.roles.{role_name}.deny")
        for key in role.mask:
            named.setdefault(key, f"policy.roles.{role_name}.mask")
            _check_maskable(schema, key, f"policy.roles.{role_name}.mask")
    for key in audited:
        named.setdefault(key, "audit.personal_data")
    for key, where in sorted(named.items()):
        field = _field(schema, key, where)
        field.resolve = _guarded(field.resolve or default_field_resolver, key, audited=key in audited)


def _field(schema: GraphQLSchema, key: str, where: str) -> GraphQLField:
    type_name, _, field_name = key.partition(".")
    found = schema.type_map.get(type_name)
    if not isinstance(found, GraphQLObjectType) or type_name.startswith("__"):
        objects = sorted(n for n, t in schema.type_map.items() if isinstance(t, GraphQLObjectType) and n[:2] != "__")
        raise ConfigError(where, f"{key}: the schema has no object type {type_name!r}; it has {', '.join(objects)}")
    if field_name not in found.fields:
        raise ConfigError(
            where, f"{key}: {type_name} has no field {field_name!r}; its fields are {', '.join(sorted(found.fields))}"
        )
    field: GraphQLField = found.fields[field_name]
    return field


def _check_maskable(schema: GraphQLSchema, key: str, where: str) -> None:
    field = _field(schema, key, where)
    named = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if named is not GraphQLString:
        raise ConfigError(where, f"{key}: only String fields can be masked (this one is {field.type}); deny it instead")


def _check_deniable(schema: GraphQLSchema, key: str, where: str) -> None:
    field = _field(schema, key, where)
    if isinstance(field.type, GraphQLNonNull):
        # graphql-core would null the nearest nullable parent instead: a whole invoice for its amount.
        raise ConfigError(where, f"{key} is non-null ({field.type}), so it cannot be denied alone")


def _mask_kind(field_name: str) -> str:
    lowered = field_name.lower()
    return "email" if "email" in lowered else "phone" if "phone" in lowered else "hidden"


def _owner(source: object) -> tuple[int | None, tuple[str, str] | None]:
    """Whose data a field of ``source`` is: a golden customer id, or the party of the record it wraps."""
    customer_id = getattr(source, "customer_id", None)
    if isinstance(customer_id, int):
        return customer_id, None
    links = getattr(source, "links", None)  # a contact read as a golden person knows its customer already
    if links and links[0].customer_id:
        return links[0].customer_id, None
    record = getattr(source, "record", None)
    party = getattr(record, "party_id", None)
    return None, (record.source, party) if record is not None and party else None


def _guarded(resolve: Resolver, key: str, *, audited: bool) -> Resolver:
    type_name, _, field_name = key.partition(".")
    kind = _mask_kind(field_name)

    def finish(value: Any, source: object, info: GraphQLResolveInfo[Any], visibility: Visibility | None) -> Any:
        audit = info.context.audit
        masked = visibility is Visibility.MASKED
        if masked and isinstance(value, str):
            value = mask(kind, value)
            if audit is not None:
                audit.masked_paths.append(info.path.as_list())
        if audited and audit is not None:  # asked for, even when empty: the trail shows who looked
            (audit.masked if masked else audit.clear).note(key, *_owner(source))
        return value

    async def finish_later(
        pending: Awaitable[Any], source: object, info: GraphQLResolveInfo[Any], visibility: Visibility | None
    ) -> Any:
        return finish(await pending, source, info, visibility)

    def guarded(source: object, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        access = info.context.access
        visibility = access.fields.get(key) if access is not None else None
        if visibility is Visibility.DENIED:
            if info.context.audit is not None:
                info.context.audit.denied.note(key, *_owner(source))
            raise Forbidden(f"{type_name}.{field_name}: not readable with the roles {_roles(access)}")
        result = resolve(source, info, **arguments)
        if visibility is None and not audited:
            return result
        if isawaitable(result):
            return finish_later(result, source, info, visibility)
        return finish(result, source, info, visibility)

    def inline(source: object, value: Any, context: Any) -> Any:
        """The guard for a field read straight from its attribute (:mod:`crmgraph.schema.plain_fields`): the
        value as read, its read noted for the audit trail; :data:`GUARDED` where the request's roles deny or
        mask it (the walk then calls :func:`guarded`, which says so with the field's own path)."""
        access = context.access
        if access is not None and access.fields.get(key) is not None:
            return GUARDED
        if audited and context.audit is not None:
            context.audit.clear.note(key, *_owner(source))
        return value

    guarded.crmgraph_guarded = True  # type: ignore[attr-defined]  # subscriptions do not share its answers
    guarded.crmgraph_wrapped = resolve  # type: ignore[attr-defined]
    guarded.crmgraph_inline = inline  # type: ignore[attr-defined]
    return guarded


def _roles(access: Any) -> str:
    return ", ".join(sorted(access.principal.roles)) or "(none)"
