"""CSV downloads for Excel: UTF-8 with a byte-order mark (so Excel reads Chinese), every text cell
escaped against formula injection, sent as an attachment whose file name may be non-ASCII.

The report views of every domain answer `?format=csv` through here. It lives in core because domain
views cannot import `siyu.web` (the layer contract); the escaping lives here for the same reason, and
`siyu.contacts.spreadsheets` writes its export and error-report files with it too.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header

BOM = "\ufeff"
CONTENT_TYPE = "text/csv; charset=utf-8"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
STREAM_FLUSH_CHARS = 64 * 1024


def escape_cell(value: Any) -> Any:
    """Neutralise formula injection: text starting with = + - @ tab or CR gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return f"'{value}"
    return value


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> HttpResponse:
    """The whole file in one response. Text cells are escaped; None is an empty cell and other values
    are written as `str()` gives them (so a negative number stays a number)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_header_cells(header))
    writer.writerows(_cells(row) for row in rows)
    response = HttpResponse(BOM + buffer.getvalue(), content_type=CONTENT_TYPE)
    _attach(response, filename)
    return response


def csv_streaming_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> StreamingHttpResponse:
    """As `csv_response`, but `rows` is read lazily while the response is sent: the header goes out
    first, then the rows in pieces of about STREAM_FLUSH_CHARS characters."""
    response = StreamingHttpResponse(_lines(header, rows), content_type=CONTENT_TYPE)
    _attach(response, filename)
    return response


def _header_cells(header: Sequence[str]) -> list[Any]:
    return [escape_cell(str(title)) for title in header]


def _cells(row: Sequence[object]) -> list[Any]:
    return [escape_cell(value) for value in row]


def _lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_header_cells(header))
    yield BOM + buffer.getvalue()
    _clear(buffer)
    for row in rows:
        writer.writerow(_cells(row))
        if buffer.tell() >= STREAM_FLUSH_CHARS:
            yield buffer.getvalue()
            _clear(buffer)
    if buffer.tell():
        yield buffer.getvalue()


def _clear(buffer: io.StringIO) -> None:
    buffer.seek(0)
    buffer.truncate()


def _attach(response: HttpResponseBase, filename: str) -> None:
    response.headers["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=filename
    )
