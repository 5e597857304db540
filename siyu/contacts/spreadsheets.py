"""Reading and writing spreadsheet files (.csv, .xlsx): no database, no Django models.

Reading is defensive: the file type is decided by its bytes (not its name), zip archives are
measured before openpyxl opens them (zip bombs), text encodings are detected (UTF-8 with or
without BOM, UTF-16 with BOM, GBK/GB18030) and decoded strictly. Every refusal is a
`ValidationError` with code "bad_file" and one human sentence.

Storing an upload copies it under MEDIA_ROOT with a size limit, then checks it as above and reads
its header row; a refused upload leaves no stored bytes behind.

Writing escapes formula injection: a text cell starting with =, +, -, @, tab or CR gets a
leading single quote, so Excel and WPS show it as text instead of running it.
"""

import codecs
import csv
import io
import shutil
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any, Literal

import charset_normalizer
from django.conf import settings
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook

from siyu.core.csv_download import escape_cell
from siyu.core.errors import PayloadTooLarge, ValidationError
from siyu.core.text import storable_text

FileFormat = Literal["csv", "xlsx"]
Cell = str | int | float | bool | date | None

EXTENSIONS: dict[str, FileFormat] = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx"}
SAMPLE_BYTES = 64 * 1024
COPY_CHUNK = 1024 * 1024
MAX_COLUMNS = 200
# Zip bomb limits for .xlsx: a real workbook is a few dozen parts compressed 5-20 times.
ZIP_MAX_MEMBERS = 1000
ZIP_MAX_UNCOMPRESSED = 1024 * 1024 * 1024
ZIP_MAX_RATIO = 100
ZIP_RATIO_MIN_SIZE = 1024 * 1024  # tiny parts may compress oddly; the ratio matters for big ones
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz", "hz_gb_2312", "cp936"}
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xd0\xcf\x11\xe0", "xls"),  # OLE2: old .xls, or an encrypted workbook
    (b"%PDF", "pdf"),
    (b"\x89PNG", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF8", "image"),
    (b"\x1f\x8b", "archive"),
    (b"Rar!", "archive"),
    (b"7z\xbc\xaf", "archive"),
)


def refuse(message: str) -> ValidationError:
    return ValidationError(message, code="bad_file", fields={"file": message})


@dataclass(frozen=True)
class FileInfo:
    format: FileFormat
    encoding: str = ""  # csv only
    delimiter: str = ","  # csv only


def file_info_of(*, file_format: str, encoding: str, delimiter: str) -> FileInfo:
    """How to read a file already checked by `inspect_file`, from what was recorded about it."""
    checked_format: FileFormat = "xlsx" if file_format == "xlsx" else "csv"
    return FileInfo(format=checked_format, encoding=encoding, delimiter=delimiter or ",")


def format_for_name(file_name: str) -> FileFormat:
    suffix = Path(file_name).suffix.lower()
    if suffix not in EXTENSIONS:
        raise refuse(
            _("“%(name)s” is not a spreadsheet Siyu can read. Upload an .xlsx or .csv file.")
            % {"name": file_name}
        )
    return EXTENSIONS[suffix]


def inspect_file(path: Path, *, file_name: str) -> FileInfo:
    """Decide how to read the file, refusing it when its bytes are not what its name says."""
    expected = format_for_name(file_name)
    size = path.stat().st_size
    if size == 0:
        raise refuse(_("The file is empty."))
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    for signature, kind in _BINARY_SIGNATURES:
        if head.startswith(signature):
            if kind == "xls":
                raise refuse(
                    _(
                        "This is an old Excel .xls file or a password-protected workbook. "
                        "Open it in Excel or WPS, remove any password and save it as .xlsx."
                    )
                )
            raise refuse(_("This file is not a spreadsheet (it looks like a %(kind)s).") % {"kind": kind})
    if expected == "xlsx":
        if not head.startswith(b"PK\x03\x04"):
            raise refuse(_("This file is named .xlsx but is not an Excel workbook."))
        _check_zip(path)
        return FileInfo(format="xlsx")
    if head.startswith(b"PK\x03\x04"):
        raise refuse(
            _(
                "This file is named .csv but is an archive or an Excel workbook. Rename it to .xlsx if it is one."
            )
        )
    encoding = _detect_encoding(head)
    return FileInfo(format="csv", encoding=encoding, delimiter=_detect_delimiter(head, encoding))


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise refuse(_("The workbook is damaged and cannot be opened.")) from exc
    if len(members) > ZIP_MAX_MEMBERS:
        raise refuse(_("The workbook has too many parts to be a normal spreadsheet."))
    total = sum(member.file_size for member in members)
    if total > ZIP_MAX_UNCOMPRESSED:
        raise refuse(
            _("The workbook unpacks to more than %(n)d MB. Split it into smaller files.")
            % {"n": ZIP_MAX_UNCOMPRESSED // (1024 * 1024)}
        )
    for member in members:
        if member.file_size >= ZIP_RATIO_MIN_SIZE and member.file_size > ZIP_MAX_RATIO * max(
            member.compress_size, 1
        ):
            raise refuse(_("The workbook is compressed suspiciously much (a “zip bomb”) and was refused."))
    names = {member.filename for member in members}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise refuse(_("This file is named .xlsx but is not an Excel workbook."))


def _detect_encoding(head: bytes) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in head:
        raise refuse(_("This file is not a text CSV file."))
    try:
        _decode_prefix(head, "utf-8", complete=len(head) < SAMPLE_BYTES)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    guess = charset_normalizer.from_bytes(head, cp_isolation=["gb18030", "big5"]).best()
    if guess is None:
        raise refuse(
            _(
                "The text encoding of this file is not recognised. "
                "Save it as “CSV UTF-8” (Excel) or as an .xlsx workbook."
            )
        )
    encoding = guess.encoding.lower()
    return "gb18030" if encoding in _GB_FAMILY else encoding


def _decode_prefix(head: bytes, encoding: str, *, complete: bool = False) -> str:
    """Decode a sample that may end in the middle of a multi-byte character (unless `complete`)."""
    return codecs.getincrementaldecoder(encoding)(errors="strict").decode(head, final=complete)


def _detect_delimiter(head: bytes, encoding: str) -> str:
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    first_line = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def normalise_cell(value: Any) -> Cell:
    """Spreadsheet values as Python values: text stripped (NUL replaced, `siyu.core.text`), whole floats
    as ints, midnight datetimes as dates."""
    if value is None:
        return None
    if isinstance(value, str):
        return storable_text(value).strip()
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, datetime):
        return value.date() if value.time() == time(0, 0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value
    return str(value).strip()


def _is_blank(cells: Sequence[Cell]) -> bool:
    return all(cell is None or cell == "" for cell in cells)


def read_rows(path: Path, info: FileInfo) -> Generator[tuple[int, list[Cell]], None, None]:
    """(row number, cells) for every non-blank row, the header row first. Raises on broken files."""
    if info.format == "xlsx":
        yield from _read_xlsx(path)
    else:
        yield from _read_csv(path, info)


def _read_csv(path: Path, info: FileInfo) -> Iterator[tuple[int, list[Cell]]]:
    with path.open("rb") as handle:
        reader = csv.reader(_decoded_lines(handle, info.encoding), delimiter=info.delimiter)
        try:
            for row in reader:
                cells = [normalise_cell(cell) for cell in row]
                if cells and isinstance(cells[0], str):
                    cells[0] = cells[0].lstrip("\ufeff")
                if not _is_blank(cells):
                    yield reader.line_num, cells
        except csv.Error as exc:
            raise refuse(
                _("The CSV file is malformed near line %(line)d.") % {"line": reader.line_num}
            ) from exc


def _decoded_lines(handle: IO[bytes], encoding: str) -> Iterator[str]:
    """Text lines decoded strictly, so a broken byte is reported with its exact line number.

    UTF-8 and GB18030 never use the newline byte inside a character, so splitting the bytes on
    newlines is exact; UTF-16 is decoded as a stream instead.
    """
    if encoding == "utf-16":
        stream = io.TextIOWrapper(handle, encoding=encoding, errors="strict", newline="")
        try:
            yield from stream
        except UnicodeDecodeError as exc:
            raise _broken(0, encoding) from exc
        return
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    line = 1
    for raw in handle:
        try:
            text = decoder.decode(raw)
        except UnicodeDecodeError as exc:
            raise _broken(line, encoding) from exc
        line += text.count("\n")
        if text:
            yield text
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise _broken(line, encoding) from exc


def _broken(line: int, encoding: str) -> ValidationError:
    name = "UTF-8" if encoding.startswith("utf-8") else encoding.upper()
    if not line:
        return refuse(
            _("The file's text is broken: it is not valid %(encoding)s. Save it again as “CSV UTF-8”.")
            % {"encoding": name}
        )
    return refuse(
        _(
            "The file's text is broken on line %(line)d: it is not valid %(encoding)s. "
            "Save it again as “CSV UTF-8” or as an .xlsx workbook."
        )
        % {"line": line, "encoding": name}
    )


def _read_xlsx(path: Path) -> Iterator[tuple[int, list[Cell]]]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for damaged files
        raise refuse(_("The workbook is damaged and cannot be opened.")) from exc
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        try:
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                cells = [normalise_cell(cell) for cell in row]
                while cells and (cells[-1] is None or cells[-1] == ""):
                    cells.pop()
                if not _is_blank(cells):
                    yield number, cells
        # SyntaxError: the XML parser's ParseError (a cell holding “&#0;”, for one)
        except (KeyError, ValueError, TypeError, SyntaxError, zipfile.BadZipFile, OSError) as exc:
            raise refuse(_("The workbook is damaged and cannot be read to the end.")) from exc
    finally:
        workbook.close()


# --- storing an upload ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredSpreadsheet:
    relative_path: str  # under MEDIA_ROOT
    size: int
    headers: list[str]
    info: FileInfo


def media_path(relative_path: str) -> Path:
    return Path(settings.MEDIA_ROOT) / relative_path


def spreadsheet_upload_store(
    *,
    upload: IO[bytes],
    file_name: str,
    relative_path: str,
    looks_like_data: Callable[[Cell], bool],
    data_in_header_message: str,
) -> StoredSpreadsheet:
    """Store an uploaded spreadsheet and check it (type, size, zip bomb, encoding, header, one data row).

    The first row must be column names: a cell for which `looks_like_data` is true refuses the file
    with `data_in_header_message`. A refused file leaves no stored bytes: the destination's folder
    is removed.
    """
    path = media_path(relative_path)
    try:
        size = _store_upload(upload=upload, destination=path)
        info = inspect_file(path, file_name=file_name)
        rows = read_rows(path, info)
        try:
            first = next(rows, None)
            if first is None:
                raise refuse(_("The file has no rows."))
            headers = _header_from(
                first[1], looks_like_data=looks_like_data, data_in_header_message=data_in_header_message
            )
            if next(rows, None) is None:
                raise refuse(_("The file has column names but no rows to import."))
        finally:
            rows.close()
    except (ValidationError, PayloadTooLarge):
        shutil.rmtree(path.parent, ignore_errors=True)
        raise
    return StoredSpreadsheet(relative_path=relative_path, size=size, headers=headers, info=info)


def _store_upload(*, upload: IO[bytes], destination: Path) -> int:
    limit = settings.SIYU_IMPORT_MAX_BYTES
    destination.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with destination.open("wb") as out:
        while chunk := upload.read(COPY_CHUNK):
            size += len(chunk)
            if size > limit:
                break
            out.write(chunk)
    if size > limit:
        shutil.rmtree(destination.parent, ignore_errors=True)
        message = _("The file is larger than %(n)d MB. Split it into smaller files.") % {
            "n": limit // (1024 * 1024)
        }
        raise PayloadTooLarge(message, code="file_too_large", fields={"file": message})
    return size


def _header_from(
    cells: Sequence[Cell], *, looks_like_data: Callable[[Cell], bool], data_in_header_message: str
) -> list[str]:
    if len(cells) > MAX_COLUMNS:
        raise refuse(_("The file has more than %(n)d columns.") % {"n": MAX_COLUMNS})
    if any(looks_like_data(cell) for cell in cells):
        raise refuse(data_in_header_message)
    return [cell_text(cell) for cell in cells]


# --- writing -------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


class CsvWriter:
    """A CSV file for Excel: UTF-8 with BOM, every cell escaped."""

    def __init__(self, path: Path, *, append: bool = False):
        is_new = not append or not path.exists() or path.stat().st_size == 0
        self._handle = path.open("a" if append else "w", encoding="utf-8", newline="")
        if is_new:
            self._handle.write("\ufeff")
        self._writer = csv.writer(self._handle)

    def write(self, cells: Iterable[Any]) -> None:
        self._writer.writerow([escape_cell(cell_text(cell)) for cell in cells])

    def close(self) -> None:
        self._handle.close()


class XlsxWriter:
    """A streaming (write-only) workbook with one sheet; text cells escaped, numbers kept as numbers."""

    def __init__(self, path: Path, *, title: str):
        self._path = path
        self._workbook = Workbook(write_only=True)
        self._sheet = self._workbook.create_sheet(title=title[:31])

    def write(self, cells: Iterable[Any]) -> None:
        self._sheet.append([self._cell(cell) for cell in cells])

    @staticmethod
    def _cell(value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, datetime):
            return value.replace(tzinfo=None) if value.tzinfo else value
        if isinstance(value, date):
            return value
        return escape_cell(str(value))

    def close(self) -> None:
        self._workbook.save(self._path)
        self._workbook.close()
