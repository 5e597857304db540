"""URLs under /api/v1/: ninja's operations, wrapped so that every answer under the prefix is JSON.

ninja answers an unknown method with a plain-text 405 and Django answers an unknown path with an
HTML 404; the wrapper and the catch-all below turn both into the API's JSON error body. Bodies over
the upload limit are refused with 413 before anything parses them.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, re_path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from siyu.api.api import api
from siyu.api.errors import error_response

app_name = "api"


def max_body_bytes() -> int:
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _json_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limit = max_body_bytes()
        if limit and _content_length(request) > limit:
            return error_response(
                413,
                "payload_too_large",
                _("The request body is larger than %(n)d bytes.") % {"n": limit},
            )
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            allowed = ", ".join(sorted(m.strip() for m in response.get("Allow", "").split(",") if m.strip()))
            response = error_response(
                405,
                "method_not_allowed",
                _("Method %(method)s is not allowed here (allowed: %(allowed)s).")
                % {"method": request.method, "allowed": allowed},
            )
            response["Allow"] = allowed
        return response

    return wrapped


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return error_response(
        404, "not_found", _("There is no API endpoint at %(path)s.") % {"path": request.path}
    )


def _patterns() -> list[URLPattern | URLResolver]:
    patterns: list[URLPattern | URLResolver] = []
    for pattern in api.urls[0]:
        if isinstance(pattern, URLPattern):
            pattern = URLPattern(
                pattern.pattern, _json_only(pattern.callback), pattern.default_args, pattern.name
            )
        patterns.append(pattern)
    patterns.append(re_path(r"^.*$", not_found, name="not-found"))
    return patterns


urlpatterns = _patterns()
