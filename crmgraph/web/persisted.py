"""Which document a request runs: the one it sends, or the one it names by hash from the manifest.

A request may name a trusted document instead of sending it, in either of the two forms clients use:

- Apollo's (``apollo-link-persisted-queries``, urql, Relay's persisted queries configured alike):
  ``"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}`` with no ``query``;
- the GraphQL-over-HTTP persisted documents proposal's: ``"documentId": "sha256:<hex>"``.

Both work with POST and GET. A hash the manifest does not hold is refused with
``PERSISTED_QUERY_NOT_FOUND`` (nothing is registered: this is a list of trusted documents, not Apollo's
automatic persisted queries, whose cache any client could fill); a ``query`` sent with a hash must be the
document of that hash (``PERSISTED_QUERY_HASH_MISMATCH``). In production mode a document that is not in
the manifest, named or sent in full, is refused with ``TRUSTED_DOCUMENT_REQUIRED``, unless a role of the
principal may explore (``policy.roles.<role>.explore``).
"""

from __future__ import annotations

from typing import Any

from crmgraph.policy.trusted_documents import SHA256_HEX, TrustedDocuments, sha256_hex
from crmgraph.web.problems import HttpRefusal

DOCUMENT_ID_PREFIX = "sha256:"
_HASH_EXPECTED = 'extensions.persistedQuery {"version": 1, "sha256Hash": "<64 lower-case hex digits>"}'


def requested_hash(extensions: dict[str, Any] | None, document_id: object) -> str | None:
    """The SHA-256 a request names its document by, if it names one; 400 for a malformed name."""
    if document_id is not None:
        if not isinstance(document_id, str) or not document_id.startswith(DOCUMENT_ID_PREFIX):
            raise HttpRefusal(
                400, "BAD_REQUEST", f"`documentId` {str(document_id)[:80]!r} is not sha256:<hex>.",
                part="documentId", expected="sha256:<64 lower-case hex digits>",
            )  # fmt: skip
        return _checked(document_id.removeprefix(DOCUMENT_ID_PREFIX), "documentId")
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise HttpRefusal(
            400, "PERSISTED_QUERY_NOT_SUPPORTED", "Only extensions.persistedQuery version 1 is supported.",
            part="extensions.persistedQuery", expected=_HASH_EXPECTED,
        )  # fmt: skip
    return _checked(persisted.get("sha256Hash"), "extensions.persistedQuery.sha256Hash")


def _checked(value: object, part: str) -> str:
    if not isinstance(value, str) or not SHA256_HEX.fullmatch(value):
        raise HttpRefusal(
            400, "BAD_REQUEST", f"`{part}` {str(value)[:80]!r} is not a SHA-256 in lower-case hex.",
            part=part, expected="64 lower-case hex digits",
        )  # fmt: skip
    return value


def document_to_run(
    query: str | None, sha256: str | None, documents: TrustedDocuments, *, required: bool, may_explore: bool
) -> str:
    """The document the request runs, or the refusal that says why it runs none.

    ``required``: production mode, where only the manifest's documents run for principals that may not
    explore.
    """
    if sha256 is not None:
        known = documents.get(sha256)
        if query is not None:
            if sha256_hex(query) != sha256:
                raise HttpRefusal(
                    400, "PERSISTED_QUERY_HASH_MISMATCH",
                    f"The `query` sent does not have the SHA-256 the request names ({sha256}).",
                    part="query", expected="the document whose SHA-256 is named, or no `query` at all",
                )  # fmt: skip
            if known is None:
                _require_trusted(required, may_explore, len(documents))
            return query
        if known is None:
            raise HttpRefusal(
                400, "PERSISTED_QUERY_NOT_FOUND",
                f"No trusted document has the SHA-256 {sha256} (the manifest holds {len(documents)}).",
                part="extensions.persistedQuery", expected="the hash of a document in trusted_documents.manifest",
            )  # fmt: skip
        return known
    if query is None:
        raise HttpRefusal(
            400, "BAD_REQUEST", "`query` is missing.", part="query",
            expected="a GraphQL document as a string, or the hash of a trusted document",
        )  # fmt: skip
    if required and not may_explore and not documents.trusts(query):
        _require_trusted(required, may_explore, len(documents))
    return query


def _require_trusted(required: bool, may_explore: bool, known: int) -> None:
    if required and not may_explore:
        raise HttpRefusal(
            403, "TRUSTED_DOCUMENT_REQUIRED",
            f"This server runs only its {known} trusted documents (production mode); this one is not among "
            "them, and no role of this principal may explore.",
            part="query", expected="a document from trusted_documents.manifest, or a role with `explore: true`",
            limit=known,
        )  # fmt: skip
