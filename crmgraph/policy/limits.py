"""Query limits as a schema extension: every document is measured before it is validated or run.

The extension parses the document itself (and keeps the parsed documents, as strawberry's ``ParserCache``
would), once its tokens are counted: a document past ``limits.max_tokens`` is refused unparsed, after a
count that stops one token past the limit. The parsed document is then measured
(:mod:`crmgraph.policy.cost`) before graphql-core validates it, since some validation rules are slow on
documents built to be expensive. A refusal is a GraphQL error whose ``extensions`` say which limit
(``code``), its value (``limit``) and what the document came to (``actual``), and no resolver runs. Both
happen in ``on_parse``, which runs for every request path: POST, GET and subscriptions over WebSocket.

With ``"extensions": {"explain": true}`` the answer also carries ``extensions.cost``: the estimate and
the limit it was held against.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension

from crmgraph.policy.cost import LimitExceeded, measure
from crmgraph.policy.limit_settings import QueryLimits

PARSED_DOCUMENTS = 512  # frontends send the same few documents over and over: parse each once
DEFAULT_PAGE_CAP = 100
# Costs of documents that passed, by (text, operation, limits, page cap), when no variable changes them.
_MEASURED: OrderedDict[tuple[str | None, str | None, QueryLimits, int], int] = OrderedDict()


# GraphQL's lexical tokens (spec, section 2.1), and the comments it ignores. Counted with one compiled
# pattern, so that refusing a large document costs a fraction of lexing it: graphql-core's lexer takes ~2 µs
# a token in Python, which a few clients sending documents of 10,000 tokens turn into a stalled server.
_TOKEN = re.compile(
    r'"""(?:\\"""|\\(?!""")|[^"\\]|"(?!""))*+"""'  # block string (alternatives disjoint: linear time)
    r'|"(?:\\.|[^"\\\n\r])*+"'  # string
    r"|(#[^\n\r]*)"  # comment: not a token
    r"|\.\.\.|[_A-Za-z][_0-9A-Za-z]*|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[!$&():=@\[\]{|}]"
)


def count_tokens(text: str, stop_after: int) -> int:
    """Lexical tokens of ``text`` (comments not counted, as the parser counts them), read no further than
    ``stop_after + 1``."""
    count = 0
    for match in _TOKEN.finditer(text):
        if match.group(1) is None:
            count += 1
            if count > stop_after:
                break
    return count


@lru_cache(maxsize=PARSED_DOCUMENTS)
def parse_within(text: str, max_tokens: int | None) -> DocumentNode:
    """The parsed document; :class:`LimitExceeded` if it has more than ``max_tokens`` tokens, found before
    the parser reads it."""
    if max_tokens is None:
        return parse(text)
    tokens = count_tokens(text, max_tokens)
    if tokens > max_tokens:
        raise LimitExceeded("TOO_MANY_TOKENS", "max_tokens", max_tokens, tokens, "Tokens")
    try:
        # The parser counts too, as a backstop: it stops one token past the limit.
        return parse(text, max_lexical_tokens=max_tokens, max_comments=max_tokens)
    except GraphQLError as error:
        if "tokens" in error.message and "Parsing aborted" in error.message:
            raise LimitExceeded("TOO_MANY_TOKENS", "max_tokens", max_tokens, max_tokens + 1, "Tokens") from None
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
                self.cost = self._measure()
        except LimitExceeded as refused:
            raise refused.as_graphql_error() from None
        yield

    def _measure(self) -> int:
        """The document's cost; kept for documents whose figure no variable changes (most of them)."""
        context = self.execution_context
        page_cap: int = getattr(context.context, "max_page_size", DEFAULT_PAGE_CAP)
        key = (context.query, context.operation_name, self.limits, page_cap)
        if context.query is not None and (cost := _MEASURED.get(key)) is not None:
            _MEASURED.move_to_end(key)
            return cost
        assert context.graphql_document is not None
        cost, read_variables = measure(
            context.schema._schema, context.graphql_document, context.operation_name, context.variables,
            self.limits, page_cap,
        )  # fmt: skip
        if context.query is not None and not read_variables:
            _MEASURED[key] = cost
            if len(_MEASURED) > PARSED_DOCUMENTS:
                _MEASURED.popitem(last=False)
        return cost

    def get_results(self) -> dict[str, Any]:
        if self.cost is None or not getattr(self.execution_context.context, "explain", False):
            return {}
        return {"cost": {"estimated": self.cost, "limit": self.limits.max_cost}}


__all__ = ["QueryLimiter", "count_tokens", "parse_within"]
