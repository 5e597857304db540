"""The browser SDK, served by Siyu itself so sites load it from the same host they send events to."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_safe

SDK_PATH = Path(__file__).resolve().parent.parent / "static" / "tracking" / "siyu.js"
# Short, so a new release reaches sites within minutes; the ETag makes the re-check cheap.
MAX_AGE_SECONDS = 300


@dataclass(frozen=True)
class _Script:
    mtime_ns: int
    body: bytes
    etag: str


_cached: _Script | None = None


def _script() -> _Script:
    """The file's bytes and ETag, read again only when the file changed."""
    global _cached
    mtime_ns = SDK_PATH.stat().st_mtime_ns
    if _cached is None or _cached.mtime_ns != mtime_ns:
        body = SDK_PATH.read_bytes()
        _cached = _Script(mtime_ns=mtime_ns, body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:20]}"')
    return _cached


def _etag_matches(header: str, etag: str) -> bool:
    # gzip_page answers with a weak form of the tag (W/"…"), which the browser then sends back.
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in candidates or "*" in candidates


@require_safe
@gzip_page
def script(request: HttpRequest) -> HttpResponse:
    sdk = _script()
    if _etag_matches(request.headers.get("If-None-Match", ""), sdk.etag):
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(sdk.body, content_type="application/javascript; charset=utf-8")
    response.headers["ETag"] = sdk.etag
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE_SECONDS}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    patch_vary_headers(response, ["Accept-Encoding"])
    return response
