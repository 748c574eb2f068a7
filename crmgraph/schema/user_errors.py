"""What a mutation tells its caller about the input it could not carry out (Shopify's ``userErrors``)."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="What is wrong with a mutation's input.")
class UserErrorCode(Enum):
    INVALID = strawberry.enum_value("INVALID", description="The input cannot be carried out as it is (see message).")
    NOT_FOUND = strawberry.enum_value(
        "NOT_FOUND", description="It names a customer, record or review candidate that does not exist (any more)."
    )
    BLANK = strawberry.enum_value("BLANK", description="A required text is empty.")
    INVALID_ID = strawberry.enum_value(
        "INVALID_ID", description="Not an id this API issued, or the id of another type of object."
    )
    UNKNOWN_SYSTEM = strawberry.enum_value("UNKNOWN_SYSTEM", description="No configured source has this name.")
    CONFLICT = strawberry.enum_value(
        "CONFLICT", description="The record changed in its system since the `version` given: read it again."
    )
    NOT_WRITABLE = strawberry.enum_value(
        "NOT_WRITABLE", description="No configured system can make this change (or the customer has no record there)."
    )
    IDEMPOTENCY_KEY_REUSED = strawberry.enum_value(
        "IDEMPOTENCY_KEY_REUSED", description="The idempotency key was used before for a different change."
    )
    IN_PROGRESS = strawberry.enum_value(
        "IN_PROGRESS", description="A request with this idempotency key is still running: ask again shortly."
    )
    OUTCOME_UNKNOWN = strawberry.enum_value(
        "OUTCOME_UNKNOWN",
        description="An earlier attempt with this key was sent and its outcome is not known; "
        "sending it again could apply it twice. Check the record, then use a new key if it is needed.",
    )


@strawberry.type(description="A mistake in a mutation's input: where, what to fix, and a code to act on.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='The path to the input field at fault, from the argument: ["input", "records", "1", "system"]. '
        "Null when no input field is (the X-Crmgraph-Actor header)."
    )
    message: str
    code: UserErrorCode
