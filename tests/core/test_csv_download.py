from collections.abc import Iterator
from decimal import Decimal

from django.http import HttpResponse, StreamingHttpResponse

from siyu.core.csv_download import STREAM_FLUSH_CHARS, csv_response, csv_streaming_response, escape_cell

HEADER = ["名称", "金额"]
ROWS: list[list[object]] = [["=1+1", 3], ["-2+3", Decimal("-12.50")], ["@SUM(A1)", None], ["安全", 1.5]]
EXPECTED = "\ufeff名称,金额\r\n'=1+1,3\r\n'-2+3,-12.50\r\n'@SUM(A1),\r\n安全,1.5\r\n"


def _streamed(response: StreamingHttpResponse) -> list[str]:
    return [chunk.decode() for chunk in response]


def test_escape_cell_quotes_text_that_would_start_a_formula() -> None:
    assert [escape_cell(v) for v in ["=1+1", "+1", "-1", "@A1", "\tx", "\rx", "a=1", ""]] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@A1",
        "'\tx",
        "'\rx",
        "a=1",
        "",
    ]
    assert escape_cell(-1) == -1


def test_csv_response_is_utf8_with_bom_escaped_text_and_plain_numbers() -> None:
    response = csv_response("report.csv", HEADER, ROWS)

    assert isinstance(response, HttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.decode("utf-8") == EXPECTED
    assert response.content.startswith(b"\xef\xbb\xbf")


def test_csv_response_escapes_the_header_too() -> None:
    response = csv_response("report.csv", ["=cmd"], [])

    assert response.content.decode() == "\ufeff'=cmd\r\n"


def test_a_non_ascii_file_name_is_sent_percent_encoded() -> None:
    response = csv_response("渠道质量-20240101-20240131.csv", HEADER, [])

    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''%E6%B8%A0%E9%81%93%E8%B4%A8%E9%87%8F-20240101-20240131.csv"
    )


def test_an_ascii_file_name_is_sent_as_is() -> None:
    assert csv_response("orders-20240101.csv", HEADER, [])["Content-Disposition"] == (
        'attachment; filename="orders-20240101.csv"'
    )


def test_streaming_response_sends_the_same_file_header_first() -> None:
    response = csv_streaming_response("订单.csv", HEADER, iter(ROWS))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''%E8%AE%A2%E5%8D%95.csv"
    assert _streamed(response) == ["\ufeff名称,金额\r\n", EXPECTED.removeprefix("\ufeff名称,金额\r\n")]


def test_streaming_response_reads_rows_lazily_in_pieces() -> None:
    read: list[int] = []
    rows_count = 3 * STREAM_FLUSH_CHARS // 100

    def lazy() -> Iterator[list[object]]:
        for n in range(rows_count):
            read.append(n)
            yield [n, "x" * 95]

    response = csv_streaming_response("big.csv", ["n", "text"], lazy())
    assert read == []
    chunks = _streamed(response)

    assert len(chunks) > 3
    assert "".join(chunks) == "\ufeffn,text\r\n" + "".join(f"{n},{'x' * 95}\r\n" for n in range(rows_count))
    assert all(len(chunk) < STREAM_FLUSH_CHARS + 200 for chunk in chunks)
