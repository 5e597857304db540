"""Contact export: any filtered list to .xlsx or .csv, built in the background, downloadable by its creator.

Rows come from `contact_list(actor=…, filters=…)`, so the actor's data scope decides what is in the
file. Phones are masked unless the actor may reveal them. Every text cell is escaped against
formula injection by the spreadsheet writers. Every export is audited with its filters and count.
"""

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from siyu.contacts.models import Contact, CustomField, ExportJob, FieldType, JobStatus, mask_phone
from siyu.contacts.selectors import ContactFilters, contact_list, contact_tags_map
from siyu.contacts.services.values import PLAIN_FIELDS
from siyu.contacts.spreadsheets import CsvWriter, XlsxWriter, media_path
from siyu.core.errors import ValidationError
from siyu.core.time import now
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import AuditAction
from siyu.tenancy.roles import Permission
from siyu.tenancy.services import audit_record

logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("xlsx", "csv")
EXPORT_BATCH = 2000
CUSTOM_PREFIX = "custom."
BUILT_IN_COLUMNS = (
    *PLAIN_FIELDS,
    "owner",
    "channel",
    "stage",
    "strength",
    "tags",
    "created_at",
    "updated_at",
    "last_seen_at",
    "id",
)
DEFAULT_COLUMNS = ("name", "phone", "email", "gender", "city", "company", "owner", "channel", "stage", "tags")


def _verbose_name(name: str) -> str:
    field = Contact._meta.get_field(name)
    return str(getattr(field, "verbose_name", name))


def export_column_choices(*, fields: Sequence[CustomField] | None = None) -> list[tuple[str, str]]:
    """Every column an export can have, as (column, header label)."""
    fields = list(CustomField.objects.all()) if fields is None else fields
    labels = {"tags": _("tags"), "strength": _("connection strength"), "id": _("ID")}
    choices = [(name, str(labels.get(name) or _verbose_name(name)).capitalize()) for name in BUILT_IN_COLUMNS]
    return choices + [(f"{CUSTOM_PREFIX}{f.key}", f.label) for f in fields]


def export_job_create(
    *,
    actor: Actor,
    filters: ContactFilters,
    columns: Sequence[str] = (),
    file_format: str = "xlsx",
    language: str = "",
) -> ExportJob:
    actor.require(Permission.CONTACTS_EXPORT)
    actor.require(Permission.CONTACTS_READ)
    if file_format not in EXPORT_FORMATS:
        raise ValidationError(
            _("Choose .xlsx or .csv for the export."), code="invalid_format", fields={"file_format": ""}
        )
    allowed = [column for column, _label in export_column_choices()]
    chosen = list(dict.fromkeys(columns)) or list(DEFAULT_COLUMNS)
    unknown = [column for column in chosen if column not in allowed]
    if unknown:
        raise ValidationError(
            _("Unknown export columns: %(columns)s.") % {"columns": ", ".join(unknown)},
            fields={"columns": ""},
        )
    return ExportJob.objects.create(
        created_by=actor.member,
        file_format=file_format,
        filters=filters.to_dict(),
        columns=chosen,
        language=language or translation.get_language() or settings.LANGUAGE_CODE,
    )


def export_file_path(job: ExportJob) -> Path | None:
    return media_path(job.file_path) if job.file_path else None


def export_download_name(job: ExportJob) -> str:
    stamp = timezone.localtime(job.created_at).strftime("%Y%m%d-%H%M")
    return f"contacts-{stamp}.{job.file_format}"


class _Formatter:
    """Contact → row of cell values, for the chosen columns."""

    def __init__(self, *, actor: Actor, columns: Sequence[str]):
        self.columns = list(columns)
        self.may_reveal = actor.can(Permission.CONTACTS_REVEAL_PHONE)
        self.fields = {f.key: f for f in CustomField.objects.all()}
        self.labels = dict(export_column_choices(fields=list(self.fields.values())))

    def header(self) -> list[str]:
        return [self.labels[column] for column in self.columns]

    def row(self, contact: Contact, tags: Sequence[str]) -> list[Any]:
        return [self.cell(contact, column, tags) for column in self.columns]

    def cell(self, contact: Contact, column: str, tags: Sequence[str]) -> Any:
        if column.startswith(CUSTOM_PREFIX):
            return self.custom(contact, column[len(CUSTOM_PREFIX) :])
        value: Any
        if column == "phone":
            value = _phone_text(contact.phone) if self.may_reveal else mask_phone(contact.phone)
        elif column == "gender":
            value = contact.get_gender_display() if contact.gender else ""
        elif column == "stage":
            value = contact.get_stage_display()
        elif column == "strength":
            value = contact.strength.label
        elif column == "owner":
            value = contact.owner.display_name if contact.owner else _("Public pool")
        elif column == "channel":
            value = contact.channel.name if contact.channel else ""
        elif column == "tags":
            value = "、".join(tags)
        elif column == "id":
            value = str(contact.id)
        else:
            value = getattr(contact, column)
        if isinstance(value, datetime):
            return timezone.localtime(value).replace(tzinfo=None, microsecond=0)
        return "" if value is None else value

    def custom(self, contact: Contact, key: str) -> Any:
        value = contact.custom.get(key)
        definition = self.fields.get(key)
        if value is None:
            return ""
        if isinstance(value, list):
            return "、".join(str(v) for v in value)
        if definition is not None and definition.type == FieldType.BOOLEAN:
            return _("Yes") if value else _("No")
        return value


def _phone_text(phone: str) -> str:
    """Mainland numbers as the 11 digits people type (and import back); others in E.164."""
    return phone[3:] if phone.startswith("+86") else phone


def export_job_run(*, actor: Actor, job: ExportJob) -> ExportJob:
    """Write the file (keyset batches, progress after each), then audit. Safe to call twice."""
    actor.require(Permission.CONTACTS_EXPORT)
    if job.status in (JobStatus.DONE, JobStatus.FAILED):
        return job
    with translation.override(job.language or settings.LANGUAGE_CODE):
        job.status, job.started_at = JobStatus.RUNNING, now()
        job.save(update_fields=["status", "started_at"])
        filters = ContactFilters.from_dict(job.filters)
        contacts = (
            contact_list(actor=actor, filters=filters).select_related("owner", "channel").order_by("-id")
        )
        job.total_rows = contacts.count()
        job.save(update_fields=["total_rows"])
        relative = f"exports/{job.workspace_id}/{job.id}/{export_download_name(job)}"
        path = media_path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            _write(actor=actor, job=job, contacts_query=contacts, path=path)
        except Exception:
            logger.exception("Export %s failed", job.id)
            path.unlink(missing_ok=True)
            job.status, job.message, job.finished_at = JobStatus.FAILED, _("The export failed."), now()
            job.save(update_fields=["status", "message", "finished_at"])
            raise
        with transaction.atomic():
            job.status, job.file_path, job.finished_at = JobStatus.DONE, relative, now()
            job.save(update_fields=["status", "file_path", "finished_at"])
            audit_record(
                actor=actor,
                action=AuditAction.CONTACTS_EXPORTED,
                target_type="export_job",
                target_id=job.id,
                summary=_("Exported %(n)d contacts (%(format)s)")
                % {"n": job.processed_rows, "format": job.file_format},
                data={
                    "count": job.processed_rows,
                    "filters": job.filters,
                    "columns": job.columns,
                    "format": job.file_format,
                    "phones_revealed": actor.can(Permission.CONTACTS_REVEAL_PHONE) and "phone" in job.columns,
                },
            )
    return job


def _write(*, actor: Actor, job: ExportJob, contacts_query: QuerySet[Contact], path: Path) -> None:
    formatter = _Formatter(actor=actor, columns=job.columns)
    writer: CsvWriter | XlsxWriter = (
        CsvWriter(path) if job.file_format == "csv" else XlsxWriter(path, title=_("Contacts"))
    )
    with_tags = "tags" in job.columns
    try:
        writer.write(formatter.header())
        last_id = None
        job.processed_rows = 0
        while True:
            page = contacts_query if last_id is None else contacts_query.filter(id__lt=last_id)
            batch: list[Contact] = list(page[:EXPORT_BATCH])
            if not batch:
                break
            tags = contact_tags_map(contact_ids=[c.id for c in batch]) if with_tags else {}
            for contact in batch:
                writer.write(formatter.row(contact, [t.name for t in tags.get(contact.id, [])]))
            last_id = batch[-1].id
            job.processed_rows += len(batch)
            job.save(update_fields=["processed_rows"])
    finally:
        writer.close()
