"""What a client reads of an error, decided once for the whole answer.

- a client mistake (:class:`~crmgraph.errors.ClientError`, a GraphQL validation error): as it is;
- an upstream fault (:class:`~crmgraph.errors.SourceError`): its code, source and ``public_message``; the
  upstream's own words (a 500's text, a proxy's HTML page) and what was asked go to the log, once per
  fault, where the request id ties them to the answer the client got;
- anything else: masked as "Internal error", and logged with its traceback.

Errors graphql-core raises before any resolver runs carry a code too, as Apollo Server names them:
``GRAPHQL_VALIDATION_FAILED`` (the document does not fit the schema, a literal argument of the wrong type
included) and ``BAD_USER_INPUT`` (a variable's value does not fit its type: a string for an ``Int``, an
``Int`` past 32 bits, a ``DateTime`` that is no date). A syntax error is raised inside strawberry's parser
cache, before any extension sees it, and comes without one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from crmgraph.errors import ClientError, SourceError
from crmgraph.observability.request import request_id

log = logging.getLogger("crmgraph.errors")


def should_mask(error: GraphQLError) -> bool:
    """Show client mistakes and upstream faults; mask everything unexpected (and log it)."""
    original = error.original_error
    if original is None or isinstance(original, SourceError | ClientError | GraphQLError):
        return False
    log.error("unexpected error at %s", error.path, exc_info=original)
    return True


def _code(errors: list[GraphQLError] | None, code: str) -> None:
    for error in errors or ():
        if not (error.extensions or {}).get("code"):
            error.extensions = {**(error.extensions or {}), "code": code}  # the same object reaches the answer


class ClientFacingErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask, error_message="Internal error")

    def on_validate(self) -> Iterator[None]:
        yield
        _code(self.execution_context.pre_execution_errors, "GRAPHQL_VALIDATION_FAILED")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        logged: set[int] = set()
        return [self._public(error, logged) for error in super()._process_errors(errors)]

    @staticmethod
    def _public(error: GraphQLError, logged: set[int]) -> GraphQLError:
        original = error.original_error
        if error.path is None and error.message.startswith("Variable '$"):
            _code([error], "BAD_USER_INPUT")  # graphql-core's coercion of the variables, before execution
        if not isinstance(original, SourceError):
            return error
        if id(original) not in logged:  # one fault can null several fields: one line for it
            logged.add(id(original))
            log.warning(
                "%s failed (%s): %s", original.source, original.code, original.message,
                extra={"source": original.source, "code": original.code, "path": error.path},
            )  # fmt: skip
        current = request_id()
        where = f" (the facade's log has the details under request id {current})" if current else ""
        return GraphQLError(
            f"{original.public_message}{where}",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=original,  # later extensions (metrics, tracing) still see the fault itself
            extensions=error.extensions,
        )
