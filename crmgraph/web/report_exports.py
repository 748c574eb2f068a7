"""Reports as files: ``GET /reports/{report}.csv|.png|.pdf?from=&to=&ownerId=&team=&country=&segmentId=``.

Authenticated as ``/graphql`` is (the same :class:`~crmgraph.policy.authenticate.Authenticator`: a bearer
JWT or an API key), answered within the same row scope, and under the same field policy: a column whose
field the role may not read is left out, a masked one is masked. The CSV has one row per figure row (its
columns named as the GraphQL fields, :mod:`crmgraph.analytics.reports.tabular`); PNG and PDF show the
report's chart above its table. A bad parameter is a 400 naming it, in the body shape every refusal of
this server has (:mod:`crmgraph.web.problems`).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from crmgraph.analytics.reports import REPORTS, ReportFilter, ReportRequest, report, scope_of
from crmgraph.analytics.reports.render import picture
from crmgraph.analytics.reports.tabular import Table, chart, table
from crmgraph.errors import ClientError
from crmgraph.policy.authenticate import Authenticator
from crmgraph.policy.masking import mask
from crmgraph.policy.principal import Unauthenticated
from crmgraph.policy.roles import Access, Visibility, decide
from crmgraph.schema.ids import decode_id
from crmgraph.schema.reports import teams
from crmgraph.web.problems import HttpRefusal, unauthenticated

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "png": "image/png", "pdf": "application/pdf"}
PARAMETERS = ("from", "to", "ownerId", "team", "country", "segmentId")


class ReportExports:
    """The ``/reports/{report}.{format}`` endpoint."""

    def __init__(self, runtime: Callable[[], Any], authenticator: Authenticator) -> None:
        self.runtime = runtime  # the app's Runtime, once the lifespan started it
        self.authenticator = authenticator

    async def handle(self, request: Request) -> Response:
        try:
            return await self._answer(request)
        except HttpRefusal as refusal:
            return refusal.response()

    async def _answer(self, request: Request) -> Response:
        name, image_format = request.path_params["report"], request.path_params["format"]
        if name not in REPORTS or image_format not in MEDIA_TYPES:
            raise HttpRefusal(
                404, "NOT_FOUND", f"No report export {name}.{image_format}.", part="path",
                expected=f"/reports/{{{'|'.join(REPORTS)}}}.{{{'|'.join(MEDIA_TYPES)}}}",
            )  # fmt: skip
        access = self._access(request)
        runtime = self.runtime()
        if runtime.analytics is None:
            raise HttpRefusal(
                404, "NOT_FOUND", "Reports are off on this server (reports.enabled is false).", part="path"
            )
        given = _filter(request)
        scope = scope_of(access.scope_clauses())
        asked = ReportRequest(filter=given, scope=scope, teams=teams(runtime.assignment))
        try:
            answer = await report(runtime.analytics, name, asked, runtime.config.reports)
        except ClientError as mistake:
            raise _bad(str(mistake)) from None
        rows = table(name, answer, _hidden(access), _shown(access))
        if image_format == "csv":
            body = _csv(rows).encode()
        else:
            title = REPORTS[name].title
            subtitle = _subtitle(given, answer)
            body = await asyncio.to_thread(picture, title, subtitle, chart(name, answer), rows, image_format)
        disposition = f'attachment; filename="{name}.{image_format}"'
        return Response(body, media_type=MEDIA_TYPES[image_format], headers={"content-disposition": disposition})

    def _access(self, request: Request) -> Access:
        try:
            principal = self.authenticator.principal(request.headers)
        except Unauthenticated as refused:
            self.runtime().denied(refused.reason, request.client.host if request.client else "")
            raise unauthenticated(refused) from None
        return decide(principal, self.runtime().config.policy)


def _bad(message: str) -> HttpRefusal:
    """A 400 for a client mistake whose message starts with the parameter at fault (``filter.country: ...``)."""
    field = message.split(":", 1)[0].removeprefix("filter.")
    return HttpRefusal(400, "BAD_REQUEST", message.replace("filter.", "", 1), part=f"query.{field}")


def _filter(request: Request) -> ReportFilter:
    params = request.query_params
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        wrong = unknown[0]
        message = f"{wrong}: not a report filter parameter."
        raise HttpRefusal(400, "BAD_REQUEST", message, part=f"query.{wrong}", expected=", ".join(PARAMETERS))
    repeated = [key for key in PARAMETERS if len(params.getlist(key)) > 1]
    if repeated:
        raise HttpRefusal(400, "BAD_REQUEST", f"{repeated[0]}: given more than once.", part=f"query.{repeated[0]}")
    segment_key = None
    if params.get("segmentId"):
        try:
            _, parts = decode_id(params["segmentId"], "Segment", argument="segmentId")
        except ClientError as mistake:
            raise _bad(str(mistake)) from None
        segment_key = ":".join(parts)
    try:
        return ReportFilter(
            start=_moment(params, "from"),
            end=_moment(params, "to"),
            owner_id=params.get("ownerId") or None,
            team=params.get("team") or None,
            country=params.get("country") or None,
            segment_key=segment_key,
        )
    except ClientError as mistake:
        raise _bad(str(mistake)) from None


def _moment(params: Any, name: str) -> datetime | None:
    given = params.get(name)
    if not given:
        return None
    try:
        return datetime.fromisoformat(given)
    except ValueError:
        message = f"{name}: {given[:40]!r} is not an ISO 8601 date-time."
        expected = "e.g. 2024-01-01 or 2024-01-01T00:00:00Z"
        raise HttpRefusal(400, "BAD_REQUEST", message, part=f"query.{name}", expected=expected) from None


def _hidden(access: Access) -> Callable[[str], bool]:
    return lambda key: access.fields.get(key) is Visibility.DENIED


def _shown(access: Access) -> Callable[[str, Any], Any]:
    def shown(key: str, found: Any) -> Any:
        if access.fields.get(key) is Visibility.MASKED and isinstance(found, str) and found:
            return mask("hidden", found)
        return found

    return shown


def _csv(rows: Table) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=rows.columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows.rows)
    return out.getvalue()


def _subtitle(given: ReportFilter, answer: Any) -> str:
    asked = ", ".join(f"{key}={found}" for key, found in given.as_json().items()) or "no filter"
    fresh = answer.freshness.as_of.isoformat(timespec="seconds") if answer.freshness.as_of else "never loaded"
    return f"{asked} · data as of {fresh}"
