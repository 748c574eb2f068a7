"""Trusted documents: the GraphQL documents a deployment's own clients send, known by their SHA-256.

    trusted_documents:
      manifest: /etc/crmgraph/documents.json

The manifest is JSON, either a map from the lower-case hex SHA-256 of each document's UTF-8 text to the
document::

    {"5b1c...e9": "query CustomerCard($id: ID!) { node(id: $id) { id ... } }"}

or Apollo's persisted query manifest (``{"format": "apollo-persisted-query-manifest", "version": 1,
"operations": [{"id": ..., "body": ...}]}``), whose ids are the same hashes. Every hash is checked
against its document when the file is loaded, so a manifest edited by hand cannot name a document by a
hash it does not have. ``crmgraph documents build`` writes one from ``.graphql`` files.

How a request names a document, and what production mode does with it, is decided in
:mod:`crmgraph.web.persisted`; this module only holds the manifest: a dict lookup per request.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict, Field

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
APOLLO_FORMAT = "apollo-persisted-query-manifest"


class TrustedDocumentsConfig(BaseModel):
    """The ``trusted_documents:`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    manifest: Path | None = Field(
        None,
        description="A JSON file of sha256 hex -> document (or an Apollo persisted query manifest), loaded at "
        "start. Requests may then name a document by its hash; in production mode only these documents run "
        "(except for roles that may explore).",
    )


class ManifestError(ValueError):
    """The manifest file cannot be used; the message says where and why."""


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


class TrustedDocuments:
    """The manifest, in memory: hash -> document."""

    def __init__(self, documents: dict[str, str] | None = None) -> None:
        self.documents = dict(documents or {})
        self._hashes = set(self.documents)

    def __len__(self) -> int:
        return len(self.documents)

    def get(self, sha256: str) -> str | None:
        return self.documents.get(sha256)

    def trusts(self, document: str) -> bool:
        """Whether ``document`` (its exact text) is in the manifest."""
        return bool(self._hashes) and sha256_hex(document) in self._hashes

    @classmethod
    def load(cls, path: Path) -> TrustedDocuments:
        try:
            raw = orjson.loads(path.read_bytes())
        except OSError as exc:
            raise ManifestError(f"{path}: cannot read the trusted-document manifest ({exc.strerror})") from exc
        except orjson.JSONDecodeError as exc:
            raise ManifestError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from exc
        return cls(_documents_of(raw, str(path)))


def _documents_of(raw: object, origin: str) -> dict[str, str]:
    if isinstance(raw, dict) and raw.get("format") == APOLLO_FORMAT:
        operations = raw.get("operations")
        if not isinstance(operations, list):
            raise ManifestError(f"{origin}: an Apollo manifest needs an `operations` list")
        pairs = [
            (op.get("id"), op.get("body")) if isinstance(op, dict) else (None, None) for op in operations
        ]  # fmt: skip
    elif isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        raise ManifestError(f"{origin}: expected a JSON object of sha256 hex -> document")
    documents: dict[str, str] = {}
    for position, (key, document) in enumerate(pairs):
        if not isinstance(key, str) or not SHA256_HEX.fullmatch(key):
            raise ManifestError(f"{origin}: entry {position}: {key!r} is not a lower-case hex SHA-256")
        if not isinstance(document, str) or not document.strip():
            raise ManifestError(f"{origin}: {key}: the document is not a non-empty string")
        if sha256_hex(document) != key:
            raise ManifestError(f"{origin}: {key}: the document's SHA-256 is {sha256_hex(document)}")
        documents[key] = document
    return documents


def build_manifest(documents: list[str]) -> dict[str, str]:
    """The manifest of ``documents`` (their texts as they will be sent)."""
    return {sha256_hex(document): document for document in documents}
