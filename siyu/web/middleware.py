from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from siyu.core.text import NUL_IN_URL, query_storable


class LanguageMiddleware:
    """Simplified Chinese unless the person chose another language (cookie set by /i18n/setlang/).

    Unlike Django's LocaleMiddleware this ignores the browser's Accept-Language on purpose: the
    product speaks Chinese by default, whatever language the operator's laptop was sold in.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response


class NulReplacingMiddleware:
    """NUL characters in the query string become U+FFFD (`siyu.core.text`): a search or filter for
    “a%00” finds nothing instead of failing on PostgreSQL. Form fields are refused by Django's forms;
    JSON bodies are cleaned by the API's parser and the ingestion gateway."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if NUL_IN_URL in request.META.get("QUERY_STRING", ""):
            request.GET = query_storable(request.GET)
        return self.get_response(request)
