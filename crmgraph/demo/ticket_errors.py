"""Errors of the simulated ticket system, in Zendesk's form: ``{"error": <code>, "description": <text>}``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from crmgraph.demo.instruments import json_response


class ApiError(Exception):
    """An answer other than 200, raised anywhere below a route and rendered by :func:`api_error_response`."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        headers: dict[str, str] | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers
        self.details = details


def not_found() -> ApiError:
    return ApiError(404, "RecordNotFound", "Not found")


def record_invalid(problems: dict[str, list[str]]) -> ApiError:
    """Zendesk's 422 for a write it refuses: ``details`` names each field with what is wrong with it."""
    details: dict[str, object] = {
        field: [{"description": text, "error": "InvalidValue"} for text in texts] for field, texts in problems.items()
    }
    return ApiError(422, "RecordInvalid", "Record validation errors", details=details)


def invalid_value(description: str) -> ApiError:
    return ApiError(400, "InvalidValue", description)


def invalid_pagination(description: str) -> ApiError:
    return ApiError(400, "InvalidPaginationParameter", description)


def unauthenticated() -> ApiError:
    return ApiError(
        401,
        "Couldn't authenticate you",
        "Send basic auth of '{email}/token:{api_token}' in the Authorization header",
        # Zendesk names the scheme it wants, as RFC 9110 asks of a 401.
        {"WWW-Authenticate": 'Basic realm="Web Password"'},
    )


def error_body(error: str, description: str) -> dict[str, str]:
    return {"error": error, "description": description}


def render_error(exc: ApiError) -> Response:
    body: dict[str, object] = {**error_body(exc.error, exc.description)}
    if exc.details is not None:
        body["details"] = exc.details
    return json_response(body, exc.status, exc.headers)


async def api_error_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return render_error(exc)


def ticket_error(status: int, retry_after: int | None) -> Response:
    """The answer Zendesk gives when it throttles a client (429) or fails (500); used for injected faults."""
    if status == 429:
        seconds = retry_after if retry_after is not None else 1
        return json_response(
            error_body("TooManyRequests", f"Rate limit exceeded; retry after {seconds} seconds"),
            429,
            {"Retry-After": str(seconds)},
        )
    return json_response(error_body("InternalError", "An internal error occurred; the request may be retried"), status)
