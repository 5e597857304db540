"""Background entry points for contacts (django-tasks). Each takes ids, activates the workspace, calls a service.

Tasks run as the member who started the job, with that member's current role and data scope.
"""

from uuid import UUID

from django.utils.translation import gettext as _
from django_tasks import task

from siyu.contacts.models import ExportJob, ImportJob, JobStatus
from siyu.contacts.services.exporting import export_job_run
from siyu.contacts.services.importing import import_job_run
from siyu.core.errors import PermissionDenied
from siyu.core.tenancy import workspace_scope
from siyu.core.time import now
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import Member
from siyu.tenancy.selectors import actor_for_member


def _actor_for(member: Member | None) -> Actor | None:
    if member is None or not member.is_active:
        return None
    return actor_for_member(member=member)


def _fail(job: ImportJob | ExportJob, message: str) -> None:
    job.status, job.message, job.finished_at = JobStatus.FAILED, message, now()
    job.save(update_fields=["status", "message", "finished_at"])


@task()
def import_run(job_id: str, workspace_id: str) -> None:
    with workspace_scope(UUID(workspace_id)):
        job = ImportJob.objects.select_related("created_by").filter(id=UUID(job_id)).first()
        if job is None or job.status in (JobStatus.DONE, JobStatus.FAILED):
            return
        actor = _actor_for(job.created_by)
        if actor is None:
            _fail(job, _("The member who started this import is no longer active."))
            return
        try:
            import_job_run(actor=actor, job=job)
        except PermissionDenied as exc:
            _fail(job, exc.message)


@task()
def export_run(job_id: str, workspace_id: str) -> None:
    with workspace_scope(UUID(workspace_id)):
        job = ExportJob.objects.select_related("created_by").filter(id=UUID(job_id)).first()
        if job is None or job.status in (JobStatus.DONE, JobStatus.FAILED):
            return
        actor = _actor_for(job.created_by)
        if actor is None:
            _fail(job, _("The member who started this export is no longer active."))
            return
        try:
            export_job_run(actor=actor, job=job)
        except PermissionDenied as exc:
            _fail(job, exc.message)


def import_enqueue(job: ImportJob) -> None:
    import_run.enqueue(job_id=str(job.id), workspace_id=str(job.workspace_id))


def export_enqueue(job: ExportJob) -> None:
    export_run.enqueue(job_id=str(job.id), workspace_id=str(job.workspace_id))
