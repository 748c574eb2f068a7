"""Query limits as a schema extension: every document is measured before it is validated or run.

The extension parses the document itself (and keeps the parsed documents, as strawberry's ``ParserCache``
would): the parser stops at ``limits.max_tokens`` tokens, so a huge document costs no more than the limit
to refuse. The parsed document is then measured (:mod:`crmgraph.policy.cost`) before graphql-core validates
it, since some validation rules are slow on documents built to be expensive. A refusal is a GraphQL error
whose ``extensions`` say which limit (``code``), its value (``limit``) and what the document came to
(``actual``), and no resolver runs. Both happen in ``on_parse``, which runs for every request path: POST,
GET and subscriptions over WebSocket.

With ``"extensions": {"explain": true}`` the answer also carries ``extensions.cost``: the estimate and
the limit it was held against.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, Lexer, Source, TokenKind, parse
from strawberry.extensions import SchemaExtension

from crmgraph.policy.cost import LimitExceeded, measure_operation
from crmgraph.policy.limit_settings import QueryLimits

PARSED_DOCUMENTS = 512  # frontends send the same few documents over and over: parse each once
DEFAULT_PAGE_CAP = 100


def count_tokens(text: str, stop_after: int) -> int:
    """Lexical tokens of ``text`` (comments not counted, as the parser counts them), read no further than
    ``stop_after + 1``."""
    lexer = Lexer(Source(text))
    count = 0
    while count <= stop_after and lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


@lru_cache(maxsize=PARSED_DOCUMENTS)
def parse_within(text: str, max_tokens: int | None) -> DocumentNode:
    """The parsed document; :class:`LimitExceeded` if it has more than ``max_tokens`` tokens."""
    try:
        return parse(text, max_lexical_tokens=max_tokens, max_comments=max_tokens)
    except GraphQLError:
        if max_tokens is not None:
            try:
                tokens = count_tokens(text, max_tokens)
            except GraphQLError:
                tokens = 0  # a syntax error before the limit: the parser's message says where
            if tokens > max_tokens:
                raise LimitExceeded("TOO_MANY_TOKENS", "max_tokens", max_tokens, tokens, "Tokens") from None
        raise


class QueryLimiter(SchemaExtension):
    """Parse within the token limit, then refuse a document past any other limit before it is validated."""

    def __init__(self, limits: QueryLimits | None = None) -> None:
        self.limits = limits or QueryLimits()
        self.cost: int | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            if context.graphql_document is None and context.query:
                context.graphql_document = parse_within(context.query, self.limits.max_tokens)
            if context.graphql_document is not None:
                self.cost = measure_operation(
                    context.schema._schema,
                    context.graphql_document,
                    context.operation_name,
                    context.variables,
                    self.limits,
                    getattr(context.context, "max_page_size", DEFAULT_PAGE_CAP),
                )
        except LimitExceeded as refused:
            raise refused.as_graphql_error() from None
        yield

    def get_results(self) -> dict[str, Any]:
        if self.cost is None or not getattr(self.execution_context.context, "explain", False):
            return {}
        return {"cost": {"estimated": self.cost, "limit": self.limits.max_cost}}


__all__ = ["QueryLimiter", "count_tokens", "parse_within"]
