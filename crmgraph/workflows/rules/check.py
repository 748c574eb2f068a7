"""The rules checked against the schema, the policy and the sources, as the facade starts and by
``crmgraph check-config``: every problem with the key path of what to fix.

- ``when.system`` is a configured source;
- ``customer`` and ``record`` are selections the schema accepts on a Customer and on the changed record's type;
- ``where`` is a JMESPath expression;
- each action names a mutation of the schema, gives only fields of its input type and every field it
  requires (``idempotencyKey`` excepted: the runner makes one per run and action);
- the rules' principal may run each action's mutation (``policy.roles``);
- each template names a fact the run has (``event.recordId``, ``customer.<a field the selection reads>``).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from graphql import (
    FieldNode,
    GraphQLInputObjectType,
    GraphQLNonNull,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    parse,
    validate,
)

from crmgraph.errors import ConfigError
from crmgraph.policy.principal import Principal
from crmgraph.policy.roles import PolicyConfig, decide
from crmgraph.workflows.rules.condition import problem as condition_problem
from crmgraph.workflows.rules.facts import EVENT_FIELDS, RECORD_TYPES, ROOTS, facts_document
from crmgraph.workflows.rules.settings import Action, Rule, RulesConfig
from crmgraph.workflows.rules.templates import PATH, placeholders

BASE = "workflows.rules"
KEY_FIELD = "idempotencyKey"


def rule_problems(
    config: RulesConfig, schema: GraphQLSchema, policy: PolicyConfig, sources: Collection[str]
) -> list[ConfigError]:
    problems: list[ConfigError] = []
    if not config.rules:
        return problems
    for position, role in enumerate(config.principal.roles):
        if role not in policy.roles:
            said = f"no role {role!r} in policy.roles: the rules' principal could run nothing"
            problems.append(ConfigError(f"{BASE}.principal.roles.{position}", said))
    principal = Principal(config.principal.subject, frozenset(config.principal.roles), "service")
    access = decide(principal, policy)
    for position, rule in enumerate(config.rules):
        where = f"{BASE}.rules.{position}"
        problems += _event_problems(rule, where, sources)
        selected = {"customer": _selection_problems(rule, "customer", where, schema, problems),
                    "record": _selection_problems(rule, "record", where, schema, problems)}  # fmt: skip
        wrong = condition_problem(rule.where) if rule.where is not None else None
        if wrong is not None:
            problems.append(ConfigError(f"{where}.where", wrong))
        for number, action in enumerate(rule.then):
            at = f"{where}.then.{number}.{action.mutation}"
            problems += _action_problems(action, at, schema)
            known = schema.mutation_type is not None and action.mutation in schema.mutation_type.fields
            if known and not access.may_run(action.mutation):
                roles = ", ".join(config.principal.roles)
                said = (f"the rules' principal (roles {roles}) may not run {action.mutation}: name it in "
                        "policy.roles.<role>.mutations of one of those roles")  # fmt: skip
                problems.append(ConfigError(at, said))
            for key_path, text in placeholders(action.input):
                unknown = _placeholder_problem(text, selected, rule)
                if unknown is not None:
                    problems.append(ConfigError(f"{at}.{key_path}", unknown))
    return problems


def _event_problems(rule: Rule, where: str, sources: Collection[str]) -> list[ConfigError]:
    if rule.when.system is not None and rule.when.system not in sources:
        said = f"no source is named {rule.when.system!r}; sources: {', '.join(sources)}"
        return [ConfigError(f"{where}.when.system", said)]
    return []


def _selection_problems(
    rule: Rule, part: str, where: str, schema: GraphQLSchema, problems: list[ConfigError]
) -> set[str]:
    """The top-level names the rule's ``customer`` or ``record`` selection reads (``id`` always); its
    problems appended."""
    selection = rule.customer if part == "customer" else rule.record
    if part == "record" and rule.when.entity not in RECORD_TYPES:
        if selection is not None:
            said = f"a {rule.when.entity.value} change has no record to read" + (
                "; a company's change is read as `customer`" if rule.when.entity.value == "party" else ""
            )
            problems.append(ConfigError(f"{where}.record", said))
        return set()
    names = {"id"}
    if selection is None:
        return names
    document = facts_document(rule.when.entity, rule.customer, rule.record,
                              with_customer=part == "customer", with_record=part == "record")  # fmt: skip
    assert document is not None
    try:
        parsed = parse(document)
    except GraphQLSyntaxError as error:
        problems.append(ConfigError(f"{where}.{part}", f"not a GraphQL selection: {error.message}"))
        return names
    errors = validate(schema, parsed)
    if errors:
        problems.append(ConfigError(f"{where}.{part}", "; ".join(error.message for error in errors)))
        return names
    operation = parsed.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    root = operation.selection_set.selections[0]
    assert isinstance(root, FieldNode) and root.selection_set is not None
    fragment = root.selection_set.selections[0]
    assert isinstance(fragment, InlineFragmentNode)
    for node in fragment.selection_set.selections:
        if isinstance(node, FieldNode):
            names.add(node.alias.value if node.alias is not None else node.name.value)
    return names


def _action_problems(action: Action, at: str, schema: GraphQLSchema) -> list[ConfigError]:
    mutations = schema.mutation_type.fields if schema.mutation_type is not None else {}
    if action.mutation not in mutations:
        near = difflib.get_close_matches(action.mutation, list(mutations), n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        return [ConfigError(at, f"the graph has no mutation {action.mutation!r}{hint}")]
    kind = input_type(schema, action.mutation)
    if kind is None:
        return [ConfigError(at, f"{action.mutation} takes no `input` object: rules run mutations that do")]
    problems: list[ConfigError] = []
    for name in action.input:
        if name not in kind.fields:
            near = difflib.get_close_matches(name, list(kind.fields), n=3)
            hint = f"did you mean {', '.join(near)}?" if near else f"it has {', '.join(kind.fields)}"
            problems.append(ConfigError(f"{at}.{name}", f"not a field of {kind.name}; {hint}"))
    for name, field in kind.fields.items():
        required = isinstance(field.type, GraphQLNonNull) and field.default_value is None
        if required and name != KEY_FIELD and name not in action.input:
            problems.append(ConfigError(f"{at}.{name}", f"{kind.name} requires it"))
    return problems


def input_type(schema: GraphQLSchema, mutation: str) -> GraphQLInputObjectType | None:
    """The type of a mutation's ``input`` argument, when it has one."""
    field = schema.mutation_type.fields.get(mutation) if schema.mutation_type is not None else None
    argument = field.args.get("input") if field is not None else None
    if argument is None:
        return None
    kind = argument.type.of_type if isinstance(argument.type, GraphQLNonNull) else argument.type
    return kind if isinstance(kind, GraphQLInputObjectType) else None


def _placeholder_problem(text: str, selected: dict[str, set[str]], rule: Rule) -> str | None:
    if not PATH.fullmatch(text):
        return f"{{{{{text}}}}}: a placeholder names a fact by its dotted path, such as {{{{event.recordId}}}}"
    root, *rest = text.split(".")
    if root not in ROOTS:
        return f"{{{{{text}}}}}: no fact {root!r}; there are {', '.join(ROOTS)}"
    if not rest:
        return None
    if root == "event" and rest[0] not in EVENT_FIELDS:
        return f"{{{{{text}}}}}: an event has no {rest[0]!r}; it has {', '.join(EVENT_FIELDS)}"
    if root in ("customer", "record") and rest[0] not in selected[root]:
        if root == "record" and rule.when.entity not in RECORD_TYPES:
            return f"{{{{{text}}}}}: a {rule.when.entity.value} change has no record to read"
        return f"{{{{{text}}}}}: the rule's `{root}` selection does not read {rest[0]!r}; add it there"
    if root in ("rule", "now"):
        return f"{{{{{text}}}}}: {root} is a value, not an object"
    return None
