"""Text from outside the system: PostgreSQL stores the NUL character in neither text nor JSONB (SQLite
does), and neither database takes a lone UTF-16 surrogate (which JSON can spell as `\\ud800`), so the
ways in replace them by U+FFFD before anything is kept — the same on both databases, and the rest of
the input is kept rather than refused. Where: query strings (`NulReplacingMiddleware`),
API bodies (the API's parser), events (`events_accept`), spreadsheet cells (`normalise_cell`), and
queries or rules posted inside a form field, where each view decodes them. Plain form fields are
refused by Django's own forms instead."""

import re
from typing import Any, overload

from django.http import QueryDict

NUL = "\x00"
REPLACEMENT = "\ufffd"
NUL_IN_JSON = b"\\u0000"  # how a JSON encoder writes NUL inside a string
NUL_IN_URL = "%00"
# A JSON escape of a surrogate (U+D800–U+DFFF): lone ones, and also halves of pairs, which only cost a
# needless walk.
SURROGATE_IN_JSON = re.compile(rb"\\u[dD][89a-fA-F]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@overload
def storable_text(value: str) -> str: ...
@overload
def storable_text(value: Any) -> Any: ...
def storable_text(value: Any) -> Any:
    """`value` with each NUL and lone surrogate in its strings and object keys (at any depth) replaced
    by U+FFFD."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        return {storable_text(key): storable_text(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_text(item) for item in value]
    return value


def query_storable(query: QueryDict) -> Any:
    """A read-only copy of `query` with its keys and values made storable (typed Any: it stands in for
    `request.GET`, which django-stubs types as a class of its own)."""
    cleaned = QueryDict(mutable=True, encoding=query.encoding)
    for key, values in query.lists():
        cleaned.setlist(storable_text(key), storable_text(values))
    cleaned._mutable = False
    return cleaned
