"""Role policies: what each role may read, what it sees masked, which customers, which mutations.

    policy:
      roles:
        admin: {mutations: ["*"], explain: true, audit: true}
        data_steward: {mutations: [customerLink, customerUnlink, customerMerge, customerSplit,
                                   reviewCandidateAccept, reviewCandidateReject]}
        sales_rep:
          scope: [{field: owner_id, attribute: owner_id}]      # the customers they own
        regional_team:
          scope: [{field: country, attribute: countries}]      # a list attribute: any of its values
        service_agent:
          deny: [Invoice.total, Invoice.outstanding, Payment.amount, Order.total]
        marketing:
          mask: [Contact.email, Contact.phone, Customer.email, Customer.phone, Customer.taxId]

A principal with several roles gets the most its roles allow: a field is denied only when every role
denies it, masked only when no role reads it in clear, and a customer is in scope when any role's scope
admits it (a role without a scope admits every customer). A role the configuration does not name grants
nothing. All of it is decided once per request into an :class:`Access`; a field then costs a dict lookup
and a customer one comparison per scope rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crmgraph.policy.principal import Principal

# What a scope rule may test on a golden customer (its surviving values).
SCOPE_FIELDS = ("owner_id", "country", "customer_id")
ALL = "*"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScopeRule(_Strict):
    field: Literal["owner_id", "country", "customer_id"] = Field(description="The customer's value tested.")
    attribute: str = Field(min_length=1, description="The principal's attribute it must equal (or be one of).")


class RolePolicy(_Strict):
    deny: tuple[str, ...] = Field((), description="Fields (Type.field) this role may not read: null + FORBIDDEN.")
    mask: tuple[str, ...] = Field((), description="Fields (Type.field) this role reads masked.")
    scope: tuple[ScopeRule, ...] = Field((), description="All must hold for a customer to be visible.")
    mutations: tuple[str, ...] = Field((), description="Mutations this role may run; '*' for all.")
    explain: bool = Field(False, description="May ask for the upstream explanation of a query.")
    audit: bool = Field(False, description="May read the audit trail (the auditEvents query).")
    automation: bool = Field(
        False, description="May read the automation rules' runs (the automationRuns query; `audit: true` may too)."
    )
    explore: bool = Field(
        False,
        description="In production mode, may send documents outside the trusted-document manifest and "
        "introspect the schema.",
    )

    @field_validator("deny", "mask")
    @classmethod
    def _type_fields(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return type_fields(values)


def type_fields(values: tuple[str, ...]) -> tuple[str, ...]:
    """``values`` if each is a ``Type.field`` name (checked against the schema when it is built)."""
    for value in values:
        type_name, dot, field_name = value.partition(".")
        if not dot or not type_name or not field_name or not type_name[0].isupper():
            raise ValueError(f"{value!r}: expected Type.field, e.g. Contact.email")
    return values


class PolicyConfig(_Strict):
    roles: dict[str, RolePolicy] = Field(default_factory=dict)


class Visibility(Enum):
    CLEAR = "clear"
    MASKED = "masked"
    DENIED = "denied"


@dataclass(frozen=True)
class Access:
    """One principal's access, decided once per request."""

    principal: Principal
    fields: Mapping[str, Visibility]  # "Type.field" -> not CLEAR (absent: clear)
    scopes: tuple[tuple[ScopeRule, ...], ...] | None  # None: every customer; else any of these (each: all rules)
    mutations: frozenset[str]
    explain: bool
    known_role: bool = field(default=True)
    audit: bool = field(default=False)
    automation: bool = field(default=False)  # may read the automation rules' runs
    explore: bool = field(default=False)  # production mode: ad-hoc documents and introspection allowed

    def visibility(self, type_name: str, field_name: str) -> Visibility:
        return self.fields.get(f"{type_name}.{field_name}", Visibility.CLEAR)

    def may_run(self, mutation: str) -> bool:
        return ALL in self.mutations or mutation in self.mutations

    @property
    def scoped(self) -> bool:
        return self.scopes is not None

    def admits(self, customer: Mapping[str, object]) -> bool:
        """Whether a golden customer is in scope. ``customer`` maps each scope field to its value or to the set
        of its values (every owner and country its records name): one of them must be the principal's."""
        if self.scopes is None:
            return True
        return any(all(_overlaps(customer.get(name), wanted) for name, wanted in clause.items())
                   for clause in self._clauses)  # fmt: skip

    @cached_property
    def _clauses(self) -> list[dict[str, frozenset[str]]]:
        return self.scope_clauses() or []

    def _wanted(self, rule: ScopeRule) -> frozenset[str]:
        wanted = self.principal.attributes.get(rule.attribute)
        if wanted is None:
            return frozenset()
        items = wanted if isinstance(wanted, list | tuple | set | frozenset) else (wanted,)
        if rule.field == "country":
            return frozenset(str(item).upper() for item in items)  # the store keeps ISO codes upper-case
        return frozenset(str(item) for item in items)

    def scope_clauses(self) -> list[dict[str, frozenset[str]]] | None:
        """The scope as the identity store filters by it (None: every customer). A rule whose attribute the
        principal lacks admits nothing, so its clause is left out."""
        if self.scopes is None:
            return None
        clauses: list[dict[str, frozenset[str]]] = []
        for rules in self.scopes:
            clause: dict[str, frozenset[str]] = {}
            for rule in rules:
                wanted = self._wanted(rule)
                clause[rule.field] = clause[rule.field] & wanted if rule.field in clause else wanted
            if all(clause.values()):
                clauses.append(clause)
        return clauses


def _overlaps(value: object, wanted: frozenset[str]) -> bool:
    if value is None:
        return False
    if isinstance(value, frozenset | set | list | tuple):
        return any(str(item) in wanted for item in value)
    return str(value) in wanted


def decide(principal: Principal, policy: PolicyConfig) -> Access:
    """The principal's access under ``policy``: the most its roles allow together."""
    roles = [policy.roles[name] for name in sorted(principal.roles) if name in policy.roles]
    if not roles:
        # No role the policy names: nothing visible, nothing allowed.
        return Access(principal, {}, (), frozenset(), explain=False, known_role=False)
    fields: dict[str, Visibility] = {}
    for name in _named(role.deny for role in roles) | _named(role.mask for role in roles):
        levels = [Visibility.DENIED if name in role.deny else Visibility.MASKED if name in role.mask
                  else Visibility.CLEAR for role in roles]  # fmt: skip
        best = min(levels, key=[Visibility.CLEAR, Visibility.MASKED, Visibility.DENIED].index)
        if best is not Visibility.CLEAR:
            fields[name] = best
    scopes = None if any(not role.scope for role in roles) else tuple(role.scope for role in roles)
    mutations = frozenset(mutation for role in roles for mutation in role.mutations)
    return Access(
        principal,
        fields,
        scopes,
        mutations,
        explain=any(role.explain for role in roles),
        explore=any(role.explore for role in roles),
        audit=any(role.audit for role in roles),
        automation=any(role.automation for role in roles),
    )


def _named(groups: Iterable[tuple[str, ...]]) -> set[str]:
    return {name for group in groups for name in group}
