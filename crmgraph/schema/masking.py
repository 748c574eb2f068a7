"""What a client reads of an error, decided once for the whole answer.

- a client mistake (:class:`~crmgraph.errors.ClientError`, a GraphQL validation error): as it is;
- an upstream fault (:class:`~crmgraph.errors.SourceError`): its code, source and ``public_message``; the
  upstream's own words (a 500's text, a proxy's HTML page) and what was asked go to the log, once per
  fault, where the request id ties them to the answer the client got;
- anything else: masked as "Internal error", and logged with its traceback.
"""

from __future__ import annotations

import logging

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


class ClientFacingErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask, error_message="Internal error")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        logged: set[int] = set()
        return [self._public(error, logged) for error in super()._process_errors(errors)]

    @staticmethod
    def _public(error: GraphQLError, logged: set[int]) -> GraphQLError:
        original = error.original_error
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
