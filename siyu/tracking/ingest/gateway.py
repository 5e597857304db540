"""The HTTP endpoints of the Segment tracking API: `/v1/batch`, `/v1/track`, `/v1/page` and the rest.

An unmodified Segment or RudderStack library pointed at Siyu's host sends here. Authentication is the
source's write key, as the HTTP Basic user name or as `writeKey` in the body (browsers' beacons cannot
set headers); any Content-Type is read as JSON, so browsers can send `text/plain` and skip CORS
preflight. Errors use Siyu's one JSON error shape; Segment libraries only read the status code.
"""

import base64
import binascii
import gzip
import io
import zlib
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from siyu.core.tenancy import workspace_scope
from siyu.tracking.ingest.keys import source_for_write_key
from siyu.tracking.ingest.spec import MAX_EVENT_BYTES, MAX_REQUEST_BYTES, Received, Rejected, parse_time
from siyu.tracking.ingest.store import events_accept
from siyu.tracking.models import Source

SINGLE_TYPES = ("track", "page", "screen", "identify", "group", "alias")
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding, X-Retry-Count",
    "Access-Control-Max-Age": "86400",
}


def _error(status: int, code: str, message: str, origin: str = "") -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message}}, status=status)
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response


def _write_key_from_header(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _space, credentials = header.partition(" ")
    if scheme.lower() != "basic" or not credentials:
        return ""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[0]


def _body(request: HttpRequest) -> bytes:
    length = request.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > MAX_REQUEST_BYTES:
        raise _TooLarge
    raw = request.read(MAX_REQUEST_BYTES + 1)
    if len(raw) > MAX_REQUEST_BYTES:
        raise _TooLarge
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        try:
            # Reading one byte past the limit tells a bomb from a large body without inflating all of it.
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
                raw = stream.read(MAX_REQUEST_BYTES + 1)
        except (OSError, EOFError, zlib.error):
            raise _BadBody("the gzip body cannot be decompressed") from None
        if len(raw) > MAX_REQUEST_BYTES:
            raise _TooLarge
    return raw


class _TooLarge(Exception):
    pass


class _BadBody(Exception):
    pass


def _origin_allowed(source: Source, origin: str) -> bool:
    allowed = source.allowed_origins or []
    return "*" in allowed or origin.rstrip("/") in allowed


def _client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "")


@csrf_exempt
def ingest(request: HttpRequest, kind: str) -> HttpResponse:
    origin = request.headers.get("Origin", "")
    if request.method == "OPTIONS":
        preflight = HttpResponse(status=204)
        for name, value in CORS_HEADERS.items():
            preflight[name] = value
        preflight["Access-Control-Allow-Origin"] = origin or "*"
        preflight["Vary"] = "Origin"
        return preflight
    if request.method != "POST":
        return _error(405, "method_not_allowed", "Send events with POST.")
    received_at = timezone.now()
    try:
        raw = _body(request)
        body = orjson.loads(raw)
    except _TooLarge:
        return _error(400, "too_large", f"The request is larger than {MAX_REQUEST_BYTES} bytes.", origin)
    except _BadBody as exc:
        return _error(400, "malformed", str(exc), origin)
    except orjson.JSONDecodeError:
        return _error(400, "malformed_json", "The body is not valid JSON.", origin)
    if not isinstance(body, dict):
        return _error(400, "malformed", "The body must be a JSON object.", origin)

    write_key = _write_key_from_header(request) or str(body.get("writeKey") or "")
    if not write_key:
        return _error(401, "no_write_key", "Send the source's write key as the Basic auth user name.", origin)
    source = source_for_write_key(write_key)
    if source is None:
        return _error(
            401, "invalid_write_key", "This write key is unknown or its source is inactive.", origin
        )
    if origin and not _origin_allowed(source, origin):
        return _error(403, "origin_not_allowed", f"Origin {origin} may not send to this source.")

    try:
        sent_at = parse_time(body.get("sentAt"), field="sentAt")
    except Rejected:
        sent_at = None
    received = Received(
        at=received_at, ip=_client_ip(request), user_agent=request.headers.get("User-Agent", "")[:300]
    )
    messages: Any
    if kind in ("batch", "import"):
        messages = body.get("batch")
        if not isinstance(messages, list):
            return _error(400, "malformed", "A batch needs a “batch” array of messages.", origin)
        context = body.get("context")
        batch_context = context if isinstance(context, dict) else None
        default_type = None
    else:
        messages, batch_context, default_type = [body], None, kind

    with workspace_scope(source.workspace_id):
        accepted = events_accept(
            source=source,
            messages=messages,
            received=received,
            sent_at=sent_at,
            batch_context=batch_context,
            default_type=default_type,
            sizes_checked=len(raw) <= MAX_EVENT_BYTES,  # no message can be larger than its request
        )
    if default_type is not None and accepted.skipped:
        skipped = accepted.skipped[0]
        return _error(400, skipped.code, skipped.detail, origin)
    response = JsonResponse(
        {"success": True, "accepted": accepted.stored, "skipped": len(accepted.skipped)},
    )
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response
