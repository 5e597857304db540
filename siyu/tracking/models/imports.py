from django.db import models

from siyu.contacts.models import JobStatus
from siyu.core.models import TenantModel
from siyu.tenancy.models import Member


class OrderImportJob(TenantModel):
    """One uploaded order file on its way in: uploaded → columns matched (confirmed) → checked whole,
    then sent in batches as `Order Completed` events. The counters are committed with each batch."""

    created_by = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=500)  # relative to MEDIA_ROOT; removed when the job ends
    file_size = models.PositiveBigIntegerField(default=0)
    file_format = models.CharField(max_length=5, default="csv")  # csv | xlsx
    encoding = models.CharField(max_length=20, blank=True)  # csv only
    delimiter = models.CharField(max_length=1, default=",")  # csv only
    headers = models.JSONField(default=list, blank=True)  # the header row, as read
    mapping = models.JSONField(default=dict, blank=True)  # column index → order field
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    language = models.CharField(max_length=10, blank=True)  # for the sentences of the row report
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    accepted_count = models.PositiveIntegerField(default=0)  # orders sent on to be recorded
    duplicate_count = models.PositiveIntegerField(default=0)  # already recorded, or repeated in the file
    failed_count = models.PositiveIntegerField(default=0)
    contacts_created_count = models.PositiveIntegerField(default=0)
    report_path = models.CharField(max_length=500, blank=True)  # the row report (CSV), relative to MEDIA_ROOT
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="orderimportjob_ws_created")]

    def __str__(self) -> str:
        return self.file_name

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == JobStatus.DONE else 0
        return min(100, self.processed_rows * 100 // self.total_rows)

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)
