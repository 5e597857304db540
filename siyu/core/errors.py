"""Domain errors with stable codes. The HTTP layer maps them to status codes in one place."""

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, fields: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields: dict[str, Any] = dict(fields or {})


class NotFound(DomainError):
    code = "not_found"


class PermissionDenied(DomainError):
    code = "permission_denied"


class Conflict(DomainError):
    code = "conflict"


class ValidationError(DomainError):
    code = "invalid"


class InvalidCursor(ValidationError):
    """A page cursor that is not one this system handed out (broken, edited or of another list): the
    API answers 422; a page goes back to its first page (`siyu.core.web.actor_required`)."""

    def __init__(self) -> None:
        super().__init__(_("The cursor is not valid."), fields={"cursor": _("Invalid.")})


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class NoActiveWorkspace(RuntimeError):
    """A tenant-scoped model was queried with no workspace active: a programming error, never a leak."""
