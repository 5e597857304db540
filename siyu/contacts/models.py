from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.models import TenantModel
from siyu.tenancy.models import Member


class Stage(models.TextChoices):
    """Lifecycle stages, in order. Automatic changes only move forward."""

    VISITOR = "visitor", _("Visitor")
    ENGAGED = "engaged", _("Engaged")
    FOLLOWER = "follower", _("Follower")
    FRIEND = "friend", _("Friend")
    CUSTOMER = "customer", _("Customer")
    MEMBER = "member", _("Member")

    @property
    def rank(self) -> int:
        return STAGE_ORDER.index(self)


STAGE_ORDER: list[Stage] = list(Stage)


class Strength(models.TextChoices):
    WEAK = "weak", _("Weak")
    MEDIUM = "medium", _("Medium")
    STRONG = "strong", _("Strong")


STAGE_STRENGTH: dict[str, Strength] = {
    Stage.VISITOR: Strength.WEAK,
    Stage.ENGAGED: Strength.MEDIUM,
    Stage.FOLLOWER: Strength.MEDIUM,
    Stage.FRIEND: Strength.STRONG,
    Stage.CUSTOMER: Strength.STRONG,
    Stage.MEMBER: Strength.STRONG,
}


class Gender(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")


class ChannelKind(models.TextChoices):
    ARTICLE = "article", _("Official account article")
    SOCIAL_AD = "social_ad", _("Moments ad")
    FEED_AD = "feed_ad", _("Feed ad")
    SEARCH = "search", _("Search")
    STORE = "store", _("Store")
    REFERRAL = "referral", _("Referral")
    WECOM = "wecom", _("WeCom")
    MINI_PROGRAM = "mini_program", _("Mini-program")
    WEBSITE = "website", _("Website")
    OTHER = "other", _("Other")


class CostUnit(models.TextChoices):
    NONE = "", _("No cost")
    CLICK = "click", _("Per click")
    CONTACT = "contact", _("Per new contact")
    MONTH = "month", _("Per month")


class Channel(TenantModel):
    """An acquisition channel: where contacts come from.

    Visits are attributed to it by its code (`channel` in the link or `utm_source`), by the
    `utm_source` values it lists, or by the referrer's domain.
    """

    name = models.CharField(_("name"), max_length=100)
    code = models.SlugField(_("code"), max_length=50)
    kind = models.CharField(_("type"), max_length=20, choices=ChannelKind.choices, default=ChannelKind.OTHER)
    utm_sources = models.JSONField(_("utm_source values"), default=list, blank=True)
    referrer_domains = models.JSONField(_("referrer domains"), default=list, blank=True)
    cost_unit = models.CharField(
        _("cost unit"), max_length=10, choices=CostUnit.choices, default=CostUnit.NONE, blank=True
    )
    unit_cost = models.DecimalField(_("unit cost (¥)"), max_digits=12, decimal_places=2, default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "code"], name="channel_unique_code")]

    def __str__(self) -> str:
        return self.name


# Search columns are matched by prefix. PostgreSQL answers LIKE 'x%' from an index only with a pattern
# operator class (whatever the database's collation); SQLite ignores operator classes.
PREFIX_SEARCH = ["uuid_ops", "varchar_pattern_ops"]


class Contact(TenantModel):
    # The busiest table: every index costs each insert, so single-column foreign-key indexes that the
    # composite (workspace, …) indexes below already cover are left out.
    workspace = models.ForeignKey(
        "tenancy.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    name_pinyin = models.CharField(max_length=300, blank=True, editable=False)
    name_initials = models.CharField(max_length=100, blank=True, editable=False)
    phone = models.CharField(_("phone"), max_length=20, blank=True)  # E.164
    phone_reversed = models.CharField(max_length=20, blank=True, editable=False)  # for suffix search
    email = models.EmailField(_("email"), blank=True)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, blank=True, default="")
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    region = models.CharField(_("region"), max_length=50, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    owner = models.ForeignKey(
        Member,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("owner"),
        db_index=False,
    )
    channel = models.ForeignKey(
        Channel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("channel"),
        db_index=False,
    )
    stage = models.CharField(
        _("lifecycle stage"), max_length=10, choices=Stage.choices, default=Stage.VISITOR
    )
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    # Came back after acquisition: any event in days 1–30, 31–60 and 61–90 after `created_at`
    # (`contacts.reporting.retention_window`). Kept by the event processor, so that channel retention
    # is a conditional count instead of a probe of every contact's events.
    retained_30 = models.BooleanField(default=False)
    retained_60 = models.BooleanField(default=False)
    retained_90 = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["workspace", "-id"], name="contact_ws_id"),
            models.Index(fields=["workspace", "owner", "-id"], name="contact_ws_owner"),
            models.Index(fields=["workspace", "stage", "-id"], name="contact_ws_stage"),
            models.Index(fields=["workspace", "channel", "-id"], name="contact_ws_channel"),
            # Channel reports read the contacts acquired in a period from this index alone.
            models.Index(
                fields=[
                    "workspace",
                    "created_at",
                    "channel",
                    "stage",
                    "retained_30",
                    "retained_60",
                    "retained_90",
                ],
                name="contact_ws_acquired",
            ),
            models.Index(
                fields=["workspace", "phone_reversed"], name="contact_ws_phone_rev", opclasses=PREFIX_SEARCH
            ),
            models.Index(fields=["workspace", "email"], name="contact_ws_email", opclasses=PREFIX_SEARCH),
            models.Index(
                fields=["workspace", "name_pinyin"], name="contact_ws_pinyin", opclasses=PREFIX_SEARCH
            ),
            models.Index(
                fields=["workspace", "name_initials"], name="contact_ws_initials", opclasses=PREFIX_SEARCH
            ),
            models.Index(fields=["workspace", "name"], name="contact_ws_name", opclasses=PREFIX_SEARCH),
        ]

    def __str__(self) -> str:
        return self.name or self.phone or self.email or str(self.id)

    @property
    def strength(self) -> Strength:
        return STAGE_STRENGTH[self.stage]

    @property
    def in_public_pool(self) -> bool:
        return self.owner_id is None

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)


def mask_phone(phone: str) -> str:
    """138****1234 for mainland numbers; keeps the country code and last four digits otherwise."""
    if not phone:
        return ""
    national = phone[3:] if phone.startswith("+86") else phone
    if len(national) >= 11:
        return f"{national[:3]}****{national[-4:]}"
    if len(national) > 4:
        return f"{'*' * (len(national) - 4)}{national[-4:]}"
    return "****"


class ContactRedirect(TenantModel):
    """A merged-away contact id and the survivor it now points to."""

    old_id = models.UUIDField()
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "old_id"], name="redirect_unique_old")]


class IdentityType(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    WECOM_EXTERNAL = "wecom_external_userid", _("WeCom external user id")
    WECHAT_OPENID = "wechat_openid", _("WeChat openid")
    WECHAT_UNIONID = "wechat_unionid", _("WeChat unionid")
    ANONYMOUS = "anonymous_id", _("Web anonymous id")
    USER_ID = "user_id", _("User id")
    EXTERNAL = "external_id", _("External system id")


class Identity(TenantModel):
    """A way to recognise a contact. `namespace` is the corp (WeCom), the app (openid) or the system."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    type = models.CharField(_("type"), max_length=30, choices=IdentityType.choices)
    namespace = models.CharField(_("namespace"), max_length=64, blank=True, default="")
    value = models.CharField(_("value"), max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["type", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "type", "namespace", "value"], name="identity_unique_value"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "contact", "type"], name="identity_ws_contact"),
            models.Index(fields=["workspace", "value"], name="identity_ws_value"),
            # "Who has a WeCom friend / a unionid": read from the index alone.
            models.Index(fields=["workspace", "type", "contact"], name="identity_ws_type_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


class TagGroup(TenantModel):
    name = models.CharField(_("name"), max_length=50)
    is_exclusive = models.BooleanField(
        _("single choice"), default=False, help_text=_("A contact can have at most one tag of this group.")
    )
    sort_order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="taggroup_unique_name")]

    def __str__(self) -> str:
        return self.name


class Tag(TenantModel):
    group = models.ForeignKey(TagGroup, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(_("name"), max_length=50)
    color = models.CharField(_("colour"), max_length=20, default="blue")
    sort_order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "group", "name"], name="tag_unique_name")]

    def __str__(self) -> str:
        return self.name


class ContactTag(TenantModel):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="contact_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "tag"], name="contacttag_unique")]
        indexes = [models.Index(fields=["workspace", "tag", "contact"], name="contacttag_ws_tag")]


class FieldType(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    SELECT = "select", _("Single select")
    MULTI_SELECT = "multi_select", _("Multi select")
    BOOLEAN = "boolean", _("Yes / no")


class CustomField(TenantModel):
    key = models.SlugField(_("key"), max_length=50)
    label = models.CharField(_("label"), max_length=100)
    type = models.CharField(_("type"), max_length=20, choices=FieldType.choices, default=FieldType.TEXT)
    options = models.JSONField(_("options"), default=list, blank=True)
    is_required = models.BooleanField(_("required"), default=False)
    sort_order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sort_order", "label"]
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="customfield_unique_key")]

    def __str__(self) -> str:
        return self.label


class FollowUpKind(models.TextChoices):
    CALL = "call", _("Call")
    VISIT = "visit", _("Visit")
    WECHAT = "wechat", _("WeChat")
    EMAIL = "email", _("Email")
    NOTE = "note", _("Note")


class FollowUp(TenantModel):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="follow_ups")
    author = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=FollowUpKind.choices, default=FollowUpKind.NOTE)
    content = models.TextField(_("content"))
    next_follow_up_on = models.DateField(_("next follow-up"), null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workspace", "contact", "-created_at"], name="followup_ws_contact"),
            models.Index(fields=["workspace", "author", "next_follow_up_on"], name="followup_ws_due"),
        ]


class TimelineKind(models.TextChoices):
    CREATED = "created", _("Created")
    UPDATED = "updated", _("Updated")
    STAGE_CHANGED = "stage_changed", _("Stage changed")
    FOLLOW_UP = "follow_up", _("Follow-up")
    TAGS_ADDED = "tags_added", _("Tags added")
    TAGS_REMOVED = "tags_removed", _("Tags removed")
    OWNER_CHANGED = "owner_changed", _("Owner changed")
    IDENTITY_ADDED = "identity_added", _("Identity added")
    MERGED = "merged", _("Merged")
    IMPORTED = "imported", _("Imported")


class TimelineEntry(TenantModel):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=30, choices=TimelineKind.choices)
    data = models.JSONField(default=dict, blank=True)
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "contact", "-created_at"], name="timeline_ws_contact")]


class StageChange(TenantModel):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=10, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=10, choices=Stage.choices)
    reason = models.CharField(max_length=200, blank=True)
    is_manual = models.BooleanField(default=False)
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["changed_at"]
        indexes = [
            models.Index(fields=["workspace", "contact", "changed_at"], name="stagechange_ws_contact"),
            # "Who ever reached customer" (reports): the moves to a stage, read from the index alone.
            models.Index(fields=["workspace", "to_stage", "contact"], name="stagechange_ws_to_stage"),
        ]


class SavedView(TenantModel):
    """A member's named filter + column choice for the contact list."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    filters = models.JSONField(default=dict, blank=True)
    columns = models.JSONField(default=list, blank=True)
    is_shared = models.BooleanField(_("shared with the workspace"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]


class JobStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(TenantModel):
    """One uploaded file on its way in: uploaded → mapped (confirmed) → validated and written in batches."""

    created_by = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=500)  # relative to MEDIA_ROOT
    file_size = models.PositiveBigIntegerField(default=0)
    file_format = models.CharField(max_length=5, default="csv")  # csv | xlsx
    encoding = models.CharField(max_length=20, blank=True)  # csv only
    delimiter = models.CharField(max_length=1, default=",")  # csv only
    headers = models.JSONField(default=list, blank=True)  # the header row, as read
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    mapping = models.JSONField(default=dict, blank=True)  # column index → target field
    dedupe_by = models.CharField(max_length=30, default="phone")
    on_duplicate = models.CharField(max_length=10, default="update")  # update | skip
    language = models.CharField(max_length=10, blank=True)  # for messages in the error report
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    error_report_path = models.CharField(max_length=500, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="importjob_ws_created")]

    def __str__(self) -> str:
        return self.file_name

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == JobStatus.DONE else 0
        return min(100, self.processed_rows * 100 // self.total_rows)


class ExportJob(TenantModel):
    """A filtered contact list written to a file in the background; downloadable by its creator only."""

    created_by = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    file_format = models.CharField(max_length=5, default="xlsx")  # xlsx | csv
    filters = models.JSONField(default=dict, blank=True)
    columns = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=10, blank=True)  # for the header row
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    file_path = models.CharField(max_length=500, blank=True)  # relative to MEDIA_ROOT
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workspace", "created_by", "-created_at"], name="exportjob_ws_creator")
        ]

    def __str__(self) -> str:
        return f"export {self.id}"

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == JobStatus.DONE else 0
        return min(100, self.processed_rows * 100 // self.total_rows)
