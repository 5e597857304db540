"""Shared machinery for server-rendered views of every domain.

Domain views cannot import `siyu.web` (the layer contract), so what they all need lives here:
the "a member must be acting" guard, HTMX detection and turning domain errors into HTTP answers
or human sentences. This module knows nothing of tenancy models; the actor is anything with
`can(permission)` and `member`, set on the request by the tenancy middleware.
"""

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, Generic, Protocol, TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied as HttpPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from siyu.core.errors import DomainError, InvalidCursor, NotFound, PermissionDenied


class ActorLike(Protocol):
    @property
    def member(self) -> Any: ...

    def can(self, permission: Any) -> bool: ...


ActorT = TypeVar("ActorT", bound=ActorLike)


class ActorRequest(HttpRequest, Generic[ActorT]):
    """A request with an acting member; annotate views as `request: ActorRequest[Actor]`."""

    actor: ActorT


View = Callable[..., HttpResponse]

NO_MEMBERSHIP_TEMPLATE = "web/no_membership.html"
PAGING_PARAMETERS = ("cursor", "before")  # the query parameters the lists page with


def is_htmx(request: HttpRequest) -> bool:
    """True for requests made by htmx (not for boosted full-page navigations)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def htmx_target(request: HttpRequest) -> str:
    return request.headers.get("HX-Target", "") if is_htmx(request) else ""


def actor_required(permission: Any = None) -> Callable[[View], View]:
    """Guard a web view: a logged-in member of the active workspace holding `permission`.

    Anonymous visitors go to the login page; a user with no membership gets a clear page; a
    member without the permission gets 403. Domain NotFound / PermissionDenied raised by the view
    (for instance by `contact_get_for`) become the 404 / 403 pages, and a broken page cursor the
    list's first page with a note.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = getattr(request, "user", None)
            if user is None or not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            actor: ActorLike | None = getattr(request, "actor", None)
            if actor is None or actor.member is None:
                return render(request, NO_MEMBERSHIP_TEMPLATE, status=403)
            if permission is not None and not actor.can(permission):
                raise HttpPermissionDenied(_("Your role does not allow this page."))
            try:
                return view(request, *args, **kwargs)
            except NotFound as exc:
                raise Http404(exc.message) from exc
            except PermissionDenied as exc:
                raise HttpPermissionDenied(exc.message) from exc
            except InvalidCursor:
                return _first_page(request)

        return guarded

    return decorate


def _first_page(request: HttpRequest) -> HttpResponse:
    """The same list from its first page, for a page link whose cursor is broken or stale."""
    query = request.GET.copy()
    for name in PAGING_PARAMETERS:
        query.pop(name, None)
    url = request.path + (f"?{query.urlencode()}" if query else "")
    messages.info(request, _("That page link no longer works; here is the first page."))
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def domain_error_message(exc: DomainError) -> str:
    """One human sentence (or a few) for a domain error, field details included."""
    details = [str(text) for text in exc.fields.values() if isinstance(text, str) and text.strip()]
    details = [d for d in dict.fromkeys(details) if d != exc.message]
    if not details:
        return exc.message
    return " ".join([exc.message, *details])


def form_add_domain_errors(
    form: forms.BaseForm, exc: DomainError, *, field_map: Mapping[str, str] | None = None
) -> None:
    """Attach a domain error to a bound form: per field where the form has that field, else on top."""
    field_map = field_map or {}
    placed = False
    for path, text in exc.fields.items():
        name = field_map.get(path, path)
        message = text if isinstance(text, str) and text.strip() else exc.message
        if name in form.fields:
            form.add_error(name, message)
            placed = True
    if not placed or any(field_map.get(p, p) not in form.fields for p in exc.fields):
        form.add_error(None, domain_error_message(exc))


# Settings-style pages: one view serves the whole page or, for htmx, just the section it refreshes.
SectionRenderer = Callable[..., HttpResponse]  # called as render(request, notice=…) or (request, error=…)


def page_or_section(
    request: HttpRequest, *, page: str, section: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return render(request, section if is_htmx(request) else page, context, status=status)


def write_succeeded(
    request: HttpRequest, *, url_name: str, notice: str, render_section: SectionRenderer
) -> HttpResponse:
    """After a successful write: the refreshed section for htmx, else a redirect with a message."""
    if is_htmx(request):
        return render_section(request, notice=notice)
    messages.success(request, notice)
    return HttpResponseRedirect(reverse(url_name))


def write_refused(
    request: HttpRequest, *, url_name: str, exc: DomainError, render_section: SectionRenderer
) -> HttpResponse:
    """A refused action (not a form): the section with the reason on top, or a redirect with it."""
    if is_htmx(request):
        response = render_section(request, error=exc.message)
        response.headers["HX-Trigger"] = "siyu:refused"
        return response
    messages.error(request, exc.message)
    return HttpResponseRedirect(reverse(url_name))
