"""Contact import from .xlsx / .csv files: upload → column mapping + preview → background run.

Atomicity ("nothing is half-imported"), decided:
- A bad FILE is refused whole. At upload the type (magic bytes), size, zip structure, encoding and
  header are checked; when the run starts, a validation pass reads the whole file (decoding every
  byte, counting rows) before the first write. A file that breaks anywhere — a broken encoding on
  line 80,000, a damaged workbook part — fails the job with a clear message and writes no contact.
- A bad ROW never blocks the good ones: rows are cleaned one by one (the same `contact_values_clean`
  the preview uses), failures go to the error report (original row + reason), good rows are written
  through `contacts_upsert` in batches of ≤ MAX_BATCH. Each batch and the job's progress counters are
  committed in one transaction, so the counters always match what is in the database and a job
  interrupted by a crash resumes after its last committed batch instead of writing rows twice.
- Empty cells never overwrite existing values.
"""

import logging
import re
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from siyu.contacts.cleaning import clean_email, clean_phone, split_list
from siyu.contacts.models import Contact, CustomField, IdentityType, ImportJob, JobStatus
from siyu.contacts.services.upsert import (
    MAX_BATCH,
    RowResult,
    UpsertKey,
    contact_statistics_refresh,
    contacts_upsert,
)
from siyu.contacts.services.values import PLAIN_FIELDS, ContactLookups, contact_values_clean
from siyu.contacts.spreadsheets import (
    Cell,
    CsvWriter,
    FileInfo,
    cell_text,
    file_info_of,
    format_for_name,
    media_path,
    read_rows,
    refuse,
    spreadsheet_upload_store,
)
from siyu.core.errors import ValidationError
from siyu.core.time import now
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import AuditAction
from siyu.tenancy.roles import Permission
from siyu.tenancy.services import audit_record

logger = logging.getLogger(__name__)

OnDuplicate = Literal["update", "skip"]
ProgressCallback = Callable[[ImportJob], None]

MAX_ROWS = 1_000_000
PREVIEW_ROWS = 20
BUILT_IN_TARGETS = (*PLAIN_FIELDS, "owner", "channel", "stage", "tags")
IDENTITY_PREFIX = "identity."
CUSTOM_PREFIX = "custom."
REPEATABLE_TARGETS = frozenset({"tags"})

# Header words people use, normalised (lower case, no spaces, no “*”, no bracketed hints).
HEADER_ALIASES: dict[str, str] = {
    **{name: name for name in BUILT_IN_TARGETS},
    **{f"{IDENTITY_PREFIX}{kind}": f"{IDENTITY_PREFIX}{kind}" for kind in IdentityType.values},
    **{kind: f"{IDENTITY_PREFIX}{kind}" for kind in IdentityType.values if kind not in ("phone", "email")},
    "姓名": "name",
    "名字": "name",
    "客户姓名": "name",
    "客户名称": "name",
    "客户名": "name",
    "联系人": "name",
    "称呼": "name",
    "fullname": "name",
    "手机": "phone",
    "手机号": "phone",
    "手机号码": "phone",
    "电话": "phone",
    "电话号码": "phone",
    "联系电话": "phone",
    "联系方式": "phone",
    "移动电话": "phone",
    "mobile": "phone",
    "tel": "phone",
    "telephone": "phone",
    "phonenumber": "phone",
    "邮箱": "email",
    "电子邮箱": "email",
    "邮件": "email",
    "电子邮件": "email",
    "邮箱地址": "email",
    "e-mail": "email",
    "mail": "email",
    "性别": "gender",
    "sex": "gender",
    "生日": "birthday",
    "出生日期": "birthday",
    "出生年月日": "birthday",
    "birthdate": "birthday",
    "dateofbirth": "birthday",
    "城市": "city",
    "所在城市": "city",
    "市": "city",
    "省份": "region",
    "地区": "region",
    "省份/地区": "region",
    "省/地区": "region",
    "省": "region",
    "省份地区": "region",
    "区域": "region",
    "province": "region",
    "公司": "company",
    "公司名称": "company",
    "单位": "company",
    "工作单位": "company",
    "企业": "company",
    "organization": "company",
    "organisation": "company",
    "备注": "notes",
    "说明": "notes",
    "note": "notes",
    "remark": "notes",
    "remarks": "notes",
    "标签": "tags",
    "客户标签": "tags",
    "tag": "tags",
    "负责人": "owner",
    "归属人": "owner",
    "跟进人": "owner",
    "所属销售": "owner",
    "渠道": "channel",
    "来源": "channel",
    "来源渠道": "channel",
    "获客渠道": "channel",
    "source": "channel",
    "阶段": "stage",
    "客户阶段": "stage",
    "生命周期": "stage",
    "生命周期阶段": "stage",
    "lifecyclestage": "stage",
    "openid": "identity.wechat_openid",
    "微信openid": "identity.wechat_openid",
    "unionid": "identity.wechat_unionid",
    "微信unionid": "identity.wechat_unionid",
    "externaluserid": "identity.wecom_external_userid",
    "企业微信id": "identity.wecom_external_userid",
    "企微id": "identity.wecom_external_userid",
    "外部id": "identity.external_id",
    "externalid": "identity.external_id",
    "用户id": "identity.user_id",
    "userid": "identity.user_id",
}


def _normalise_header(text: str) -> str:
    text = re.sub(r"[（(【\[].*?[)）】\]]", "", str(text)).strip().lower()
    return re.sub(r"[\s*＊:：_]", "", text)


_ALIASES = {_normalise_header(k): v for k, v in HEADER_ALIASES.items()}


# --- columns ------------------------------------------------------------------------------------


def import_target_choices(*, fields: Sequence[CustomField] | None = None) -> list[tuple[str, str]]:
    """Everything a column can be mapped to, as (target, label); "" means “ignore this column”."""
    fields = list(CustomField.objects.all()) if fields is None else fields
    choices: list[tuple[str, str]] = [("", _("— ignore this column —"))]
    for name in BUILT_IN_TARGETS:
        label = (
            _("tags") if name == "tags" else str(getattr(Contact._meta.get_field(name), "verbose_name", name))
        )
        choices.append((name, label.capitalize()))
    choices += [
        (f"{IDENTITY_PREFIX}{kind.value}", str(kind.label))
        for kind in IdentityType
        if kind not in (IdentityType.PHONE, IdentityType.EMAIL)
    ]
    choices += [
        (f"{CUSTOM_PREFIX}{f.key}", _("Custom field: %(label)s") % {"label": f.label}) for f in fields
    ]
    return choices


def import_mapping_guess(*, headers: Sequence[str], fields: Sequence[CustomField]) -> dict[str, str]:
    """Column index → target for every header Siyu recognises (Chinese or English); others are ignored."""
    custom: dict[str, str] = {}
    for definition in fields:
        custom.setdefault(_normalise_header(definition.key), f"{CUSTOM_PREFIX}{definition.key}")
        custom.setdefault(_normalise_header(definition.label), f"{CUSTOM_PREFIX}{definition.key}")
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for index, header in enumerate(headers):
        word = _normalise_header(header)
        target = custom.get(word) or _ALIASES.get(word) or ""
        if target.startswith(CUSTOM_PREFIX) and word in _ALIASES and word not in custom:
            target = _ALIASES[word]
        if target and (target not in used or target in REPEATABLE_TARGETS):
            mapping[str(index)] = target
            used.add(target)
    return mapping


@dataclass(frozen=True)
class ColumnMap:
    """Turns one row of cells into a contact payload for `contact_values_clean` / `contacts_upsert`."""

    headers: list[str]
    targets: dict[int, str]

    @classmethod
    def for_job(cls, job: ImportJob) -> "ColumnMap":
        return cls(headers=list(job.headers), targets={int(k): v for k, v in job.mapping.items() if v})

    def payload(self, cells: Sequence[Cell]) -> tuple[dict[str, Any], list[int]]:
        """(payload, the column of each identity in payload order). Empty cells are left out."""
        payload: dict[str, Any] = {}
        identity_columns: list[int] = []
        for index, target in self.targets.items():
            value = cells[index] if index < len(cells) else None
            if value is None or value == "":
                continue
            if target == "tags":
                payload.setdefault("tags", []).extend(_split_tags(value))
            elif target.startswith(CUSTOM_PREFIX):
                payload.setdefault("custom", {})[target[len(CUSTOM_PREFIX) :]] = value
            elif target.startswith(IDENTITY_PREFIX):
                payload.setdefault("identities", []).append(
                    {"type": target[len(IDENTITY_PREFIX) :], "namespace": "", "value": cell_text(value)}
                )
                identity_columns.append(index)
            else:
                payload[target] = value
        return payload, identity_columns

    def column_of(self, path: str, identity_columns: Sequence[int]) -> int | None:
        if path.startswith("identities."):
            position = path.split(".", 1)[1]
            return identity_columns[int(position)] if position.isdigit() else None
        for wanted in (path, f"{IDENTITY_PREFIX}{path}"):
            for index, target in self.targets.items():
                if target == wanted:
                    return index
        return None

    def describe(self, errors: Mapping[str, str], identity_columns: Sequence[int]) -> tuple[str, set[int]]:
        """One sentence per error, prefixed by the column name; plus the columns at fault."""
        parts, columns = [], set()
        pair = _("%(field)s: %(value)s")
        for path, message in errors.items():
            column = self.column_of(path, identity_columns)
            if column is not None:
                columns.add(column)
                parts.append(pair % {"field": self.headers[column], "value": message})
            else:
                parts.append(pair % {"field": path, "value": message} if path else message)
        return _("; ").join(parts), columns


def _split_tags(value: Cell) -> list[str]:
    return split_list(cell_text(value))


# --- upload -------------------------------------------------------------------------------------


def import_source_path(job: ImportJob) -> Path:
    return media_path(job.file_path)


def import_error_report_path(job: ImportJob) -> Path | None:
    return media_path(job.error_report_path) if job.error_report_path else None


def _file_info(job: ImportJob) -> FileInfo:
    return file_info_of(file_format=job.file_format, encoding=job.encoding, delimiter=job.delimiter)


def _looks_like_data(cell: Cell) -> bool:
    if not isinstance(cell, str):
        return cell is not None  # numbers and dates are values, not column names
    if cell.replace(".", "", 1).isdigit():
        return True
    for clean in (clean_phone, clean_email):
        try:
            if clean(cell):
                return True
        except ValueError:
            continue
    return False


def import_job_create(*, actor: Actor, upload: IO[bytes], file_name: str, language: str = "") -> ImportJob:
    """Store an uploaded file and check it (type, size, zip bomb, encoding, header, one data row).

    A refused file leaves nothing behind: no job, no stored bytes.
    """
    actor.require(Permission.CONTACTS_IMPORT)
    actor.require(Permission.CONTACTS_WRITE)
    display_name = Path(file_name.replace("\\", "/")).name[:255] or "upload"
    fmt = format_for_name(display_name)
    job = ImportJob(
        workspace_id=actor.workspace_id,
        created_by=actor.member,
        file_name=display_name,
        file_format=fmt,
        language=language or translation.get_language() or settings.LANGUAGE_CODE,
    )
    stored = spreadsheet_upload_store(
        upload=upload,
        file_name=display_name,
        relative_path=f"imports/{actor.workspace_id}/{job.id}/source.{fmt}",
        looks_like_data=_looks_like_data,
        data_in_header_message=_(
            "The first row holds data, not column names. Add a header row "
            "(for example 姓名, 手机, 邮箱) and upload the file again."
        ),
    )
    headers = stored.headers
    fields = list(CustomField.objects.all())
    job.file_path, job.file_size, job.headers = stored.relative_path, stored.size, headers
    job.encoding, job.delimiter = stored.info.encoding, stored.info.delimiter
    job.mapping = import_mapping_guess(headers=headers, fields=fields)
    mapped = set(job.mapping.values())
    job.dedupe_by = next(
        (
            t.removeprefix(IDENTITY_PREFIX)
            for t in ("phone", "email", *sorted(mapped))
            if t in mapped and (t in ("phone", "email") or t.startswith(IDENTITY_PREFIX))
        ),
        "phone",
    )
    job.save()
    return job


def _dedupe_target(dedupe_by: str) -> str:
    return dedupe_by if dedupe_by in ("phone", "email") else f"{IDENTITY_PREFIX}{dedupe_by}"


def import_job_configure(
    *,
    actor: Actor,
    job: ImportJob,
    mapping: Mapping[str, str],
    dedupe_by: str,
    on_duplicate: str,
) -> ImportJob:
    """Set the column mapping and the duplicate rule (before the job is confirmed)."""
    actor.require(Permission.CONTACTS_IMPORT)
    if job.confirmed_at is not None:
        raise ValidationError(_("This import has already started."), code="already_started")
    allowed = {target for target, _label in import_target_choices()}
    cleaned: dict[str, str] = {}
    errors: dict[str, str] = {}
    seen: dict[str, str] = {}
    for raw_index, target in mapping.items():
        index = str(raw_index)
        if not target:
            continue
        if not index.isdigit() or int(index) >= len(job.headers):
            errors[f"mapping.{index}"] = _("There is no column %(n)s.") % {"n": index}
        elif target not in allowed:
            errors[f"mapping.{index}"] = _("“%(value)s” is not a field a column can be mapped to.") % {
                "value": target
            }
        elif target in seen and target not in REPEATABLE_TARGETS:
            errors[f"mapping.{index}"] = _(
                "Columns “%(a)s” and “%(b)s” are both mapped to the same field."
            ) % {
                "a": job.headers[int(seen[target])],
                "b": job.headers[int(index)],
            }
        else:
            cleaned[index], seen[target] = target, index
    key = UpsertKey(type=dedupe_by)  # raises on an unknown identity type
    if on_duplicate not in ("update", "skip"):
        errors["on_duplicate"] = _("Choose “update” or “skip” for duplicates.")
    if _dedupe_target(key.type) not in seen:
        errors["dedupe_by"] = _("Map a column to “%(field)s”: it decides which rows are duplicates.") % {
            "field": IdentityType(key.type).label
        }
    if errors:
        raise ValidationError(next(iter(errors.values())), fields=errors)
    job.mapping, job.dedupe_by, job.on_duplicate = cleaned, key.type, on_duplicate
    job.save(update_fields=["mapping", "dedupe_by", "on_duplicate"])
    return job


def import_job_confirm(*, actor: Actor, job: ImportJob) -> ImportJob:
    """Freeze the mapping; the caller then enqueues the background run."""
    actor.require(Permission.CONTACTS_IMPORT)
    if job.confirmed_at is not None:
        raise ValidationError(_("This import has already started."), code="already_started")
    if _dedupe_target(job.dedupe_by) not in job.mapping.values():
        raise ValidationError(
            _("Map a column to “%(field)s”: it decides which rows are duplicates.")
            % {"field": IdentityType(job.dedupe_by).label},
            fields={"dedupe_by": ""},
        )
    job.confirmed_at = now()
    job.save(update_fields=["confirmed_at"])
    return job


# --- preview ------------------------------------------------------------------------------------


@dataclass
class PreviewRow:
    number: int
    cells: list[str]
    error: str = ""
    error_columns: set[int] = field(default_factory=set)


def _missing_key_message(key: UpsertKey) -> str:
    return _("The key “%(key)s” is missing in this row.") % {"key": key.type}


def import_preview(*, actor: Actor, job: ImportJob, limit: int = PREVIEW_ROWS) -> list[PreviewRow]:
    """The first rows as they would be cleaned by the real run, with each row's errors.

    Cleaning may create channels named in the file (as the real run does); the preview rolls that back.
    """
    actor.require(Permission.CONTACTS_IMPORT)
    columns = ColumnMap.for_job(job)
    key = UpsertKey(type=job.dedupe_by)
    preview: list[PreviewRow] = []
    rows = read_rows(import_source_path(job), _file_info(job))
    try:
        with transaction.atomic():
            lookups = ContactLookups.load(create_missing_channels=True)
            next(rows, None)  # the header
            for number, cells in rows:
                payload, identity_columns = columns.payload(cells)
                values, errors = contact_values_clean(payload, lookups=lookups, partial=True)
                if not errors and not key.value_of(values):
                    errors[key.type] = _missing_key_message(key)
                message, bad = columns.describe(errors, identity_columns)
                width = max(len(job.headers), len(cells))
                texts = [cell_text(cells[i]) if i < len(cells) else "" for i in range(width)]
                preview.append(PreviewRow(number=number, cells=texts, error=message, error_columns=bad))
                if len(preview) >= limit:
                    break
            transaction.set_rollback(True)
    finally:
        rows.close()
    return preview


# --- the run ------------------------------------------------------------------------------------


def _data_rows(job: ImportJob) -> Generator[tuple[int, list[Cell]], None, None]:
    rows = read_rows(import_source_path(job), _file_info(job))
    try:
        next(rows, None)
        yield from rows
    finally:
        rows.close()


def import_validate_file(*, job: ImportJob) -> int:
    """Read the whole file once before any write; return its number of data rows or refuse it."""
    total = 0
    for _number, _cells in _data_rows(job):
        total += 1
        if total > MAX_ROWS:
            raise refuse(
                _("The file has more than %(n)d rows. Split it into smaller files.") % {"n": MAX_ROWS}
            )
    if total == 0:
        raise refuse(_("The file has column names but no rows to import."))
    return total


class ErrorReport:
    """The failed rows, as uploaded, with the reason: a CSV Excel opens correctly (UTF-8 with BOM)."""

    def __init__(self, job: ImportJob):
        self.job = job
        self._writer: CsvWriter | None = None

    def add(self, number: int, cells: Sequence[Cell], reason: str) -> None:
        if self._writer is None:
            if not self.job.error_report_path:
                self.job.error_report_path = str(Path(self.job.file_path).parent / "errors.csv")
                ImportJob.objects.filter(id=self.job.id).update(error_report_path=self.job.error_report_path)
            path = media_path(self.job.error_report_path)
            resuming = path.exists() and path.stat().st_size > 0
            self._writer = CsvWriter(path, append=resuming)
            if not resuming:
                self._writer.write([_("Row"), *self.job.headers, _("Reason")])
        width = len(self.job.headers)
        padded = [*cells, *([""] * (width - len(cells)))]
        self._writer.write([number, *padded, reason])

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


_COUNTERS = (
    "processed_rows",
    "created_count",
    "updated_count",
    "unchanged_count",
    "skipped_count",
    "failed_count",
)


def _count(job: ImportJob, results: Sequence[RowResult]) -> None:
    for result in results:
        if result.status == "created":
            job.created_count += 1
        elif result.status == "updated":
            job.updated_count += 1
        elif result.status == "unchanged":
            job.unchanged_count += 1
        elif result.status == "skipped":
            job.skipped_count += 1
        else:
            job.failed_count += 1
    job.processed_rows += len(results)


def _write_batch(
    *,
    actor: Actor,
    job: ImportJob,
    key: UpsertKey,
    lookups: ContactLookups,
    columns: ColumnMap,
    batch: Sequence[tuple[int, list[Cell]]],
    report: ErrorReport,
) -> None:
    payloads = [columns.payload(cells) for _number, cells in batch]
    on_duplicate: OnDuplicate = "skip" if job.on_duplicate == "skip" else "update"
    with transaction.atomic():
        results = contacts_upsert(
            actor=actor,
            rows=[payload for payload, _columns in payloads],
            key=key,
            on_duplicate=on_duplicate,
            source="import",
            lookups=lookups,
        )
        _count(job, results)
        job.save(update_fields=list(_COUNTERS))
    for result, (number, cells), (_payload, identity_columns) in zip(results, batch, payloads, strict=True):
        if result.status == "failed":
            reason, _bad = columns.describe(result.errors, identity_columns)
            report.add(number, [cell_text(c) for c in cells], reason)


def _finish(job: ImportJob, *, status: JobStatus, message: str = "") -> None:
    job.status, job.message, job.finished_at = status, message, now()
    job.save(update_fields=["status", "message", "finished_at"])
    source = import_source_path(job)
    if job.file_path and source.exists():
        source.unlink()  # the uploaded personal data is not kept once the job has ended


def import_job_run(*, actor: Actor, job: ImportJob, progress: ProgressCallback | None = None) -> ImportJob:
    """Validate the whole file, then write it in batches through `contacts_upsert`. Idempotent per job."""
    actor.require(Permission.CONTACTS_IMPORT)
    if job.status in (JobStatus.DONE, JobStatus.FAILED):
        return job
    if job.confirmed_at is None:
        raise ValidationError(
            _("Confirm the column mapping before running the import."), code="not_confirmed"
        )
    with translation.override(job.language or settings.LANGUAGE_CODE):
        job.status = JobStatus.RUNNING
        job.started_at = job.started_at or now()
        job.save(update_fields=["status", "started_at"])
        try:
            job.total_rows = import_validate_file(job=job)
        except ValidationError as exc:
            _finish(job, status=JobStatus.FAILED, message=exc.message)
            return job
        job.save(update_fields=["total_rows"])
        if progress:
            progress(job)
        try:
            _run_batches(actor=actor, job=job, progress=progress)
        except Exception:
            logger.exception("Import %s stopped", job.id)
            _finish(
                job,
                status=JobStatus.FAILED,
                message=_("The import stopped unexpectedly after %(n)d rows. Rows before that were saved.")
                % {"n": job.processed_rows},
            )
            raise
        _finish(job, status=JobStatus.DONE)
        contact_statistics_refresh()
        audit_record(
            actor=actor,
            action=AuditAction.CONTACTS_IMPORTED,
            target_type="import_job",
            target_id=job.id,
            summary=_("Imported %(file)s: %(created)d created, %(updated)d updated, %(failed)d failed")
            % {
                "file": job.file_name,
                "created": job.created_count,
                "updated": job.updated_count,
                "failed": job.failed_count,
            },
            data={
                "file_name": job.file_name,
                "rows": job.total_rows,
                "created": job.created_count,
                "updated": job.updated_count,
                "unchanged": job.unchanged_count,
                "skipped": job.skipped_count,
                "failed": job.failed_count,
                "dedupe_by": job.dedupe_by,
                "on_duplicate": job.on_duplicate,
            },
        )
    return job


def _run_batches(*, actor: Actor, job: ImportJob, progress: ProgressCallback | None) -> None:
    columns = ColumnMap.for_job(job)
    key = UpsertKey(type=job.dedupe_by)
    lookups = ContactLookups.load(create_missing_channels=True)
    report = ErrorReport(job)
    already = job.processed_rows  # a resumed job skips what earlier runs committed
    batch: list[tuple[int, list[Cell]]] = []
    try:
        for position, row in enumerate(_data_rows(job)):
            if position < already:
                continue
            batch.append(row)
            if len(batch) == MAX_BATCH:
                _write_batch(
                    actor=actor,
                    job=job,
                    key=key,
                    lookups=lookups,
                    columns=columns,
                    batch=batch,
                    report=report,
                )
                batch = []
                if progress:
                    progress(job)
        if batch:
            _write_batch(
                actor=actor, job=job, key=key, lookups=lookups, columns=columns, batch=batch, report=report
            )
            if progress:
                progress(job)
    finally:
        report.close()
