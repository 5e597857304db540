"""Background entry points for tracking (django-tasks): each takes ids, activates the workspace, calls a
service. Tasks run as the member who started the job, with that member's current role."""

from uuid import UUID

from django.utils.translation import gettext as _
from django_tasks import task

from siyu.contacts.models import JobStatus
from siyu.core.errors import PermissionDenied
from siyu.core.tenancy import workspace_scope
from siyu.core.time import now
from siyu.tenancy.selectors import actor_for_member
from siyu.tracking.models import OrderImportJob
from siyu.tracking.services.orders import order_import_job_run


def _fail(job: OrderImportJob, message: str) -> None:
    job.status, job.message, job.finished_at = JobStatus.FAILED, message, now()
    job.save(update_fields=["status", "message", "finished_at"])


@task()
def order_import_run(job_id: str, workspace_id: str) -> None:
    with workspace_scope(UUID(workspace_id)):
        job = OrderImportJob.objects.select_related("created_by").filter(id=UUID(job_id)).first()
        if job is None or job.is_finished:
            return
        member = job.created_by
        if member is None or not member.is_active:
            _fail(job, _("The member who started this import is no longer active."))
            return
        try:
            order_import_job_run(actor=actor_for_member(member=member), job=job)
        except PermissionDenied as exc:
            _fail(job, exc.message)


def order_import_enqueue(job: OrderImportJob) -> None:
    order_import_run.enqueue(job_id=str(job.id), workspace_id=str(job.workspace_id))
