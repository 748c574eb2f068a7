"""Each parsed document validated once, found again by identity.

strawberry's ``ValidationCache`` keys an LRU by the document itself. graphql-core's AST nodes are frozen
dataclasses whose hash walks the whole tree, so every request paid a deep hash of its document (a few
hundred nodes for a customer 360, about 4% of a warm one) just to find a validation it already had.
:func:`crmgraph.policy.limits.parse_within` hands every request with the same text the same document
object, so the document's identity is key enough. An entry holds the schema and the document, so their
ids cannot be reused while it is kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

VALIDATED_DOCUMENTS = 512
# (ids of schema, document, rules) -> (schema, document, errors), least recently used first
_VALIDATED: OrderedDict[tuple[int, int, tuple[Any, ...]], tuple[object, object, list[GraphQLError]]] = OrderedDict()


class ValidatedDocuments(SchemaExtension):
    """Validate a document the first time it is seen; later requests with the same document reuse the result."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema, document, rules = context.schema._schema, context.graphql_document, tuple(context.validation_rules)
        if document is None or not rules:  # nothing to validate, or nothing parsed: strawberry's own course
            yield
            return
        key = (id(schema), id(document), rules)
        kept = _VALIDATED.get(key)
        if kept is not None and kept[0] is schema and kept[1] is document:
            _VALIDATED.move_to_end(key)
            errors = kept[2]
        else:
            errors = validate_document(schema, document, rules)
            _VALIDATED[key] = (schema, document, errors)
            if len(_VALIDATED) > VALIDATED_DOCUMENTS:
                _VALIDATED.popitem(last=False)
        context.pre_execution_errors = errors
        yield
