"""`siyu import FILE --workspace W`: the web import wizard's run, from a terminal, with progress."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from siyu.contacts.models import ImportJob, JobStatus
from siyu.contacts.services.importing import (
    import_error_report_path,
    import_job_configure,
    import_job_confirm,
    import_job_create,
    import_job_run,
)
from siyu.core.errors import DomainError
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.actor import Actor
from siyu.tenancy.selectors import actor_for_member, member_list, workspace_get_by_slug, workspace_owner


class Command(BaseCommand):
    help = (
        "Import contacts from an .xlsx or .csv file into a workspace. Columns are mapped from their "
        "headers (姓名, 手机, 邮箱, … or the field names); the import runs as the workspace's owner "
        "unless --as names another member."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path to the .xlsx or .csv file.")
        parser.add_argument("--workspace", required=True, help="The workspace's slug.")
        parser.add_argument(
            "--dedupe",
            default="",
            help="Which identity decides duplicates: phone, email or an identity type (default: guessed).",
        )
        parser.add_argument("--on-duplicate", choices=["update", "skip"], default="update")
        parser.add_argument("--as", dest="username", default="", help="Run as this member (username).")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("There is no file “%(path)s”.") % {"path": path})
        try:
            workspace = workspace_get_by_slug(slug=options["workspace"].strip())
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        with workspace_scope(workspace.id):
            actor = self._actor(options["username"].strip())
            try:
                job = self._prepare(actor=actor, path=path, options=options)
                job = import_job_run(actor=actor, job=job, progress=self._progress)
            except DomainError as exc:
                raise CommandError(exc.message) from exc
        self._summary(job)
        if job.status != JobStatus.DONE:
            raise CommandError(job.message or _("The import failed."))

    def _actor(self, username: str) -> Actor:
        if username:
            member = member_list().select_related("user").filter(user__username=username).first()
            if member is None:
                raise CommandError(
                    _("“%(name)s” is not an active member of this workspace.") % {"name": username}
                )
        else:
            member = workspace_owner()
            if member is None:
                raise CommandError(_("The workspace has no active owner to act for."))
        return actor_for_member(member=member)

    def _prepare(self, *, actor: Actor, path: Path, options: dict[str, Any]) -> ImportJob:
        with path.open("rb") as upload:
            job = import_job_create(actor=actor, upload=upload, file_name=path.name)
        mapped = ", ".join(f"{job.headers[int(i)]} → {target}" for i, target in job.mapping.items())
        self.stdout.write(_("Columns: %(mapped)s") % {"mapped": mapped or _("none recognised")})
        ignored = [h for i, h in enumerate(job.headers) if str(i) not in job.mapping]
        if ignored:
            self.stdout.write(_("Ignored columns: %(columns)s") % {"columns": ", ".join(ignored)})
        job = import_job_configure(
            actor=actor,
            job=job,
            mapping=job.mapping,
            dedupe_by=options["dedupe"].strip() or job.dedupe_by,
            on_duplicate=options["on_duplicate"],
        )
        return import_job_confirm(actor=actor, job=job)

    def _progress(self, job: ImportJob) -> None:
        self.stdout.write(
            _("%(done)d / %(total)d rows (%(percent)d%%)")
            % {"done": job.processed_rows, "total": job.total_rows, "percent": job.percent}
        )

    def _summary(self, job: ImportJob) -> None:
        if job.status == JobStatus.FAILED:
            self.stderr.write(job.message)
            return
        self.stdout.write(
            _(
                "Done: %(total)d rows — %(created)d created, %(updated)d updated, "
                "%(unchanged)d unchanged, %(skipped)d skipped, %(failed)d failed."
            )
            % {
                "total": job.total_rows,
                "created": job.created_count,
                "updated": job.updated_count,
                "unchanged": job.unchanged_count,
                "skipped": job.skipped_count,
                "failed": job.failed_count,
            }
        )
        if job.error_report_path:
            self.stdout.write(_("Error report: %(path)s") % {"path": import_error_report_path(job)})
