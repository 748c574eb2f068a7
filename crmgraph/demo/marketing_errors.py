"""Errors of the simulated marketing system, in Mautic's form: ``{"errors": [{"code", "message", "details"}]}``."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from crmgraph.demo.instruments import json_response


class ApiError(Exception):
    """An answer other than 2xx, raised anywhere below a route and rendered by :func:`api_error_response`."""

    def __init__(
        self,
        status: int,
        message: str,
        details: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.details = details
        self.headers = headers
        self.kind = kind


def not_found() -> ApiError:
    return ApiError(404, "Item was not found.")


def unauthorized() -> ApiError:
    # Mautic names the failure ``access_denied`` and asks for basic auth, as RFC 9110 asks of a 401.
    return ApiError(401, "API authorization denied.", headers={"WWW-Authenticate": 'Basic realm="Mautic"'},
                    kind="access_denied")  # fmt: skip


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def invalid(problems: dict[str, list[str]]) -> ApiError:
    """Mautic's 400 for a form it refuses: one message naming each field, and the fields in ``details``."""
    message = " ".join(f"{field}: {' '.join(texts)}" for field, texts in problems.items())
    return ApiError(400, message, details=problems)


def error_body(status: int, message: str, details: object = None, kind: str | None = None) -> dict[str, object]:
    error: dict[str, object] = {"code": status, "message": message, "details": [] if details is None else details}
    if kind is not None:
        error["type"] = kind
    return {"errors": [error]}


def render_error(exc: ApiError) -> Response:
    return json_response(error_body(exc.status, exc.message, exc.details, exc.kind), exc.status, exc.headers)


async def api_error_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return render_error(exc)


async def unknown_endpoint(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "Method not allowed." if exc.status_code == 405 else "Requested URL not found."
    return json_response(error_body(exc.status_code, message), exc.status_code)


def marketing_error(status: int, retry_after: int | None) -> Response:
    """What Mautic answers when it throttles a client (429) or fails (500); used for injected faults."""
    if status == 429:
        seconds = retry_after if retry_after is not None else 1
        body = error_body(429, f"API rate limit exceeded; retry after {seconds} seconds.")
        return json_response(body, 429, {"Retry-After": str(seconds)})
    return json_response(error_body(status, "Looks like I encountered an error (error #500)."), status)
