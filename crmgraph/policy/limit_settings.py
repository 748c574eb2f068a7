"""The ``limits:`` section of the configuration: what one GraphQL document may cost, checked before it runs.

Every limit is counted on the document as written, with fragments written out where they are spread::

    limits:
      max_tokens: 5000        # lexical tokens of the raw document, counted before it is parsed
      max_depth: 15           # fields nested in fields: `{ customers { nodes { name } } }` is 3 deep
      max_aliases: 30         # fields given an alias (`a: customer(id: 1)`)
      max_root_fields: 20     # fields at the top of the operation
      max_directives: 50      # directives used (`@include`, `@skip`, ...)
      max_cost: 5000          # objects the answer may hold, estimated from the page sizes
      list_size: 3            # what a list without a page size (order lines, comments) counts as

The defaults lie in the range GraphQL Armor and Apollo Router ship with; the README's queries, the
customer 360 page and GraphiQL's schema query pass under them. ``null`` switches one limit off.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class QueryLimits(BaseModel):
    """What one document may cost; a document past any limit is refused before a resolver runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int | None = Field(
        5000,
        ge=1,
        description="Lexical tokens of the document (names, punctuation, values; comments not counted), "
        "counted on the raw text before parsing. Refused with TOO_MANY_TOKENS.",
    )
    max_depth: int | None = Field(
        15, ge=1, description="Fields nested within fields, fragments written out. Refused with QUERY_TOO_DEEP."
    )
    max_aliases: int | None = Field(
        30, ge=0, description="Fields with an alias, fragments written out. Refused with TOO_MANY_ALIASES."
    )
    max_root_fields: int | None = Field(
        20, ge=1, description="Fields at the top of the operation. Refused with TOO_MANY_ROOT_FIELDS."
    )
    max_directives: int | None = Field(
        50, ge=0, description="Directives used, fragments written out. Refused with TOO_MANY_DIRECTIVES."
    )
    max_cost: int | None = Field(
        5000,
        ge=1,
        description="The estimated number of objects in the answer: every field of an object type counts 1, "
        "times the page size (`first`, else the field's default) of each list it sits in. Refused with "
        "QUERY_TOO_COSTLY.",
    )
    list_size: int = Field(
        3,
        ge=1,
        description="What a list without a page size (order lines, ticket comments, payments) counts as "
        "in the cost estimate.",
    )
