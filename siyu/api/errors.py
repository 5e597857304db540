"""Every API error becomes `{"error": {"code", "message", "fields"}}` with the right status — here only."""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from siyu.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ValidationError,
)
from siyu.tenancy.api import CsrfFailed

logger = logging.getLogger(__name__)

DOMAIN_STATUS: list[tuple[type[DomainError], int]] = [
    (NotFound, 404),
    (PermissionDenied, 403),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (ValidationError, 422),
]

# Statuses every authenticated operation may answer, documented once for all of them.
COMMON_ERROR_STATUSES = {
    "401": "Missing, invalid or revoked credentials.",
    "403": "The caller may not do this (role, API key scope or CSRF).",
    "404": "No such object in this workspace (or outside the caller's data scope).",
    "422": "The input is not valid; `fields` maps field paths to reasons.",
}


class ErrorBody(Schema):
    code: str
    message: str
    fields: dict[str, Any]


class ErrorOut(Schema):
    error: ErrorBody


def error_payload(code: str, message: str, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": dict(fields or {})}}


def error_response(
    status: int, code: str, message: str, fields: Mapping[str, Any] | None = None
) -> JsonResponse:
    return JsonResponse(error_payload(code, message, fields), status=status)


def domain_status(exc: DomainError) -> int:
    for kind, status in DOMAIN_STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def field_path(loc: Sequence[Any]) -> str:
    """("body", "payload", "rows", 3, "phone") → "rows.3.phone"; ("query", "limit") → "limit"."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[2:] or ["body"]
    elif parts:
        parts = parts[1:] or parts
    return ".".join(parts)


def _validation_fields(errors: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in errors:
        path = field_path(error.get("loc", ()))
        fields.setdefault(path, str(error.get("msg", "")))
    return fields


def _on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return error_response(domain_status(exc), exc.code, exc.message, exc.fields)


def _on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    return error_response(
        422, "invalid", _("The request is not valid; see the fields."), _validation_fields(exc.errors)
    )


def _on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    if getattr(request, "api_key_rejected", False):
        response = error_response(401, "invalid_api_key", _("The API key is invalid or has been revoked."))
    else:
        response = error_response(
            401,
            "not_authenticated",
            _("Authentication required: send an API key (Authorization: Bearer sy_…) or log in."),
        )
    response["WWW-Authenticate"] = 'Bearer realm="siyu"'
    return response


def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        return error_response(
            400,
            "malformed_json",
            _("The request body is not valid JSON: %(error)s") % {"error": exc.__cause__},
        )
    codes = {400: "bad_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found"}
    return error_response(exc.status_code, codes.get(exc.status_code, "error"), str(exc))


def _on_csrf_failed(request: HttpRequest, exc: CsrfFailed) -> HttpResponse:
    return error_response(403, "csrf_failed", str(exc))


def _on_http404(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, "not_found", _("Not found."))


def _on_django_permission_denied(request: HttpRequest, exc: DjangoPermissionDenied) -> HttpResponse:
    return error_response(403, "permission_denied", _("You do not have permission to do this."))


def _on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled API error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "server_error", _("Something went wrong on our side; it has been logged."))


def install_error_handlers(api: NinjaAPI) -> None:
    api.exception_handler(DomainError)(_on_domain_error)
    api.exception_handler(NinjaValidationError)(_on_validation_error)
    api.exception_handler(AuthenticationError)(_on_authentication_error)
    api.exception_handler(HttpError)(_on_http_error)
    api.exception_handler(CsrfFailed)(_on_csrf_failed)
    api.exception_handler(Http404)(_on_http404)
    api.exception_handler(DjangoPermissionDenied)(_on_django_permission_denied)
    api.exception_handler(Exception)(_on_unexpected)
