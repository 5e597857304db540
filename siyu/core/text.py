"""Text from outside the system: PostgreSQL stores the NUL character in neither text nor JSONB (SQLite
does), so the ways in replace it by U+FFFD before anything is kept — the same on both databases, and
the rest of the input is kept rather than refused. Where: query strings (`NulReplacingMiddleware`),
API bodies (the API's parser), events (`events_accept`), spreadsheet cells (`normalise_cell`), and
queries or rules posted inside a form field, where each view decodes them. Plain form fields are
refused by Django's own forms instead."""

from typing import Any, overload

from django.http import QueryDict

NUL = "\x00"
REPLACEMENT = "\ufffd"
NUL_IN_JSON = b"\\u0000"  # how a JSON encoder writes NUL inside a string
NUL_IN_URL = "%00"


@overload
def without_nul(value: str) -> str: ...
@overload
def without_nul(value: Any) -> Any: ...
def without_nul(value: Any) -> Any:
    """`value` with each NUL in its strings and object keys (at any depth) replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT)
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(item) for item in value]
    return value


def query_without_nul(query: QueryDict) -> Any:
    """A read-only copy of `query` with NUL replaced in its keys and values (typed Any: it stands in for
    `request.GET`, which django-stubs types as a class of its own)."""
    cleaned = QueryDict(mutable=True, encoding=query.encoding)
    for key, values in query.lists():
        cleaned.setlist(without_nul(key), without_nul(values))
    cleaned._mutable = False
    return cleaned
