from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.contacts.models import Channel
from siyu.core.models import TenantModel
from siyu.tenancy.models import Member


class ContentKind(models.TextChoices):
    ARTICLE = "article", _("Article")
    PRODUCT = "product", _("Product page")
    POSTER = "poster", _("Poster")
    FILE = "file", _("File")
    LINK = "link", _("External link")


class ContentCategory(TenantModel):
    name = models.CharField(_("name"), max_length=50)
    sort_order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="contentcategory_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Content(TenantModel):
    kind = models.CharField(
        _("type"), max_length=10, choices=ContentKind.choices, default=ContentKind.ARTICLE
    )
    title = models.CharField(_("title"), max_length=200)
    summary = models.CharField(_("summary"), max_length=500, blank=True)
    body = models.TextField(_("body"), blank=True)  # sanitised HTML (articles, product pages)
    url = models.URLField(_("link"), max_length=1000, blank=True)  # external links
    file = models.FileField(_("file"), upload_to="content/%Y/%m/", blank=True)  # files, poster images
    cover = models.ImageField(_("cover image"), upload_to="content/covers/%Y/%m/", blank=True)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, null=True, blank=True)
    category = models.ForeignKey(
        ContentCategory,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("category"),
    )
    tags = models.JSONField(_("tags"), default=list, blank=True)
    is_published = models.BooleanField(_("published"), default=True)
    created_by = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "kind", "-created_at"], name="content_ws_kind")]

    def __str__(self) -> str:
        return self.title


class ShareLink(TenantModel):
    """A member's personal link to a piece of content; views through it are attributed to them."""

    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="share_links")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    token = models.CharField(max_length=16, unique=True)  # the public part of the URL
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "content", "member", "channel"], name="sharelink_unique_member_channel"
            ),
            models.UniqueConstraint(
                fields=["workspace", "content", "member"],
                condition=models.Q(channel__isnull=True),
                name="sharelink_unique_member",
            ),
        ]


class ContentViewer(TenantModel):
    """One contact's reading of one piece of content, kept by the processor.

    `sharer` is the member whose link brought the contact to it first: views are credited to them.
    """

    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="+", db_index=False)
    contact_id = models.UUIDField()
    sharer = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    views = models.PositiveIntegerField(default=0)
    active_dwell_ms = models.PositiveBigIntegerField(default=0)
    max_read_depth = models.PositiveSmallIntegerField(default=0)  # percent scrolled
    first_viewed_at = models.DateTimeField()
    last_viewed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "content", "contact_id"], name="contentviewer_unique"
            )
        ]
        indexes = [models.Index(fields=["workspace", "contact_id"], name="contentviewer_ws_contact")]
