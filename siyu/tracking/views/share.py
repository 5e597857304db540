"""Public share pages: what a viewer sees behind a member's share link, with the tracking SDK.

No login. The token is looked up across workspaces; the link's workspace is then made active for
everything else the page reads. Unknown tokens and unpublished content get the same 404 page.
The page loads siyu.js with the workspace's "Share links" source and tags its page and engagement
events with `content_id` and `share_token`, so the processor credits views to the sharer.
"""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from siyu.core.tenancy import workspace_scope
from siyu.tracking.models import ContentKind, ShareLink
from siyu.tracking.selectors.content import content_file_info, share_link_for_token
from siyu.tracking.services.content import (
    body_sanitise,
    poster_compose,
    share_source_get_or_create,
    share_url,
)

SDK_FALLBACK_PATH = "/sdk/siyu.js"
# The loader: a stub `window.siyu` queueing calls until siyu.js has loaded (the same stub as the
# install snippet), then `load` with the page properties that credit the view to the share link.
# The SDK sends the page view itself on load, with those properties.
_LOADER = """<script>
!function(){var s=window.siyu=window.siyu||[];if(s.initialized||s.invoked)return;s.invoked=!0;
s.methods=["load","page","track","identify","alias","reset","ready","flush"];
s.factory=function(m){return function(){var a=[].slice.call(arguments);a.unshift(m);s.push(a);return s}};
for(var i=0;i<s.methods.length;i++){var m=s.methods[i];s[m]=s.factory(m)}
var t=document.createElement("script");t.async=!0;t.src=__SCRIPT__;
var f=document.getElementsByTagName("script")[0];f.parentNode.insertBefore(t,f);
s.load(__KEY__,__OPTIONS__)}();
</script>"""
ShareView = Callable[[HttpRequest, ShareLink], HttpResponse]


def _origin(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _sdk_url() -> str:
    try:
        return reverse("sdk:script")
    except NoReverseMatch:
        return SDK_FALLBACK_PATH


def _js(value: object) -> str:
    """A JSON literal safe inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def loader_script(*, script_url: str, write_key: str, options: dict[str, Any]) -> SafeString:
    """The SDK loader for a share page: siyu.load(writeKey, {host, pageProperties})."""
    return mark_safe(  # noqa: S308 - every value is a JSON literal with <, > and & escaped
        _LOADER.replace("__SCRIPT__", _js(script_url))
        .replace("__KEY__", _js(write_key))
        .replace("__OPTIONS__", _js(options))
    )


def not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "tracking/content/share/not_found.html", status=404)


def shared(view: ShareView) -> Callable[[HttpRequest, str], HttpResponse]:
    """Resolve the token (404 page when unknown or unpublished) and run the view in its workspace."""

    @wraps(view)
    def resolved(request: HttpRequest, token: str) -> HttpResponse:
        link = share_link_for_token(token=token)
        if link is None:
            return not_found(request)
        with workspace_scope(link.workspace_id):
            try:
                return view(request, link)
            except Http404:
                return not_found(request)

    return resolved


def _image_response(response: FileResponse) -> HttpResponse:
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return cast(HttpResponse, response)  # the views' declared type; FileResponse streams


@require_GET
@shared
def share_open(request: HttpRequest, link: ShareLink) -> HttpResponse:
    content = link.content
    origin = _origin(request)
    source = share_source_get_or_create()
    page_properties: dict[str, Any] = {"content_id": str(content.id), "share_token": link.token}
    if link.channel is not None:
        page_properties["channel"] = link.channel.code
    file_info = content_file_info(content)
    cover_url = ""
    if content.kind == ContentKind.POSTER:
        cover_url = reverse("share:poster", kwargs={"token": link.token})
    elif content.cover.name:
        cover_url = reverse("share:cover", kwargs={"token": link.token})
    context = {
        "content": content,
        # Sanitised when saved; sanitised again here so rows written any other way cannot inject markup.
        "body_html": body_sanitise(content.body),
        "link": link,
        "sharer_name": link.member.display_name,
        "page_url": share_url(share_link=link, base_url=origin),
        "cover_url": cover_url,
        "og_image": origin + cover_url if cover_url else "",
        "description": content.summary or content.title,
        "file_info": file_info,
        "sdk_loader": loader_script(
            script_url=origin + _sdk_url(),
            write_key=source.write_key,
            options={"host": origin, "pageProperties": page_properties},
        ),
        "download_properties": {**page_properties, "file_name": file_info.name if file_info else ""},
    }
    response = render(request, "tracking/content/share/page.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


@require_GET
@shared
def share_cover(request: HttpRequest, link: ShareLink) -> HttpResponse:
    stored = link.content.cover
    if not stored.name:
        raise Http404
    try:
        return _image_response(FileResponse(stored.storage.open(stored.name, "rb")))
    except OSError as exc:
        raise Http404 from exc


@require_GET
@shared
def share_poster(request: HttpRequest, link: ShareLink) -> HttpResponse:
    """The poster as the sharer hands it out: with their QR code and name composed in."""
    if link.content.kind != ContentKind.POSTER or not link.content.file.name:
        raise Http404
    path = poster_compose(share_link=link, base_url=_origin(request))
    return _image_response(FileResponse(path.open("rb"), content_type="image/png"))


@require_GET
@shared
def share_file(request: HttpRequest, link: ShareLink) -> HttpResponse:
    """The shared file, as a download. The page's button reports "File Downloaded" before coming here."""
    content = link.content
    if content.kind != ContentKind.FILE or not content.file.name:
        raise Http404
    try:
        handle = content.file.storage.open(content.file.name, "rb")
    except OSError as exc:
        raise Http404 from exc
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=content.file.name.rsplit("/", 1)[-1],
        content_type="application/octet-stream",
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return cast(HttpResponse, response)
