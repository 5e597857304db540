"""The content library and tracked sharing: content, categories, share links, QR codes and posters.

Every write checks the actor's permission: the library is kept by members who may manage content,
share links are made by members who may share it. Uploaded images are opened with Pillow before they
are stored (a real image, not too heavy, not too many pixels); article bodies are sanitised with nh3.
"""

import hashlib
import io
import os
import secrets
import string
import tempfile
import warnings
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import nh3
import segno
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont, ImageOps

from siyu.contacts.models import Channel
from siyu.core.errors import Conflict, PermissionDenied, ValidationError
from siyu.core.tenancy import active_workspace_id
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission
from siyu.tracking.models import Content, ContentCategory, ContentKind, ShareLink, Source, SourceKind
from siyu.tracking.services.sources import ANY_ORIGIN, write_key_new

# Limits --------------------------------------------------------------------------------------------

IMAGE_MAX_BYTES = 10 * 1024 * 1024
IMAGE_MAX_PIXELS = 40_000_000
FILE_MAX_BYTES = 50 * 1024 * 1024
IMAGE_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP"})
TITLE_MAX = 200
SUMMARY_MAX = 500
TAGS_MAX = 20
TAG_MAX_LENGTH = 30
CATEGORY_NAME_MAX = 50
TOKEN_LENGTH = 10
TOKEN_ALPHABET = string.ascii_letters + string.digits
SHARE_SOURCE_NAME = "Share links"

Upload = UploadedFile[bytes]

# What an article or product body may contain. Everything else is dropped, the text inside kept.
ALLOWED_TAGS = frozenset(
    {
        "h1", "h2", "h3", "h4", "h5", "h6",
        "p", "b", "strong", "i", "em", "u", "s", "sub", "sup", "span",
        "ul", "ol", "li", "a", "img", "blockquote", "br", "hr", "pre", "code",
        "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})


def body_sanitise(html: str) -> str:
    """Rich text as stored: the allowed tags and attributes only, links with rel="noopener"."""
    return nh3.clean(
        html or "",
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        link_rel="noopener",
        url_schemes=set(URL_SCHEMES),
    ).strip()


# Validation of plain fields ------------------------------------------------------------------------


def _title(raw: str) -> str:
    title = (raw or "").strip()
    if not title or len(title) > TITLE_MAX:
        raise ValidationError(
            _("A title of 1 to %(max)d characters is needed.") % {"max": TITLE_MAX},
            fields={"title": ""},
        )
    return title


def _summary(raw: str) -> str:
    summary = " ".join((raw or "").split())
    if len(summary) > SUMMARY_MAX:
        raise ValidationError(
            _("The summary is longer than %(max)d characters.") % {"max": SUMMARY_MAX},
            fields={"summary": ""},
        )
    return summary


def tags_clean(raw: Sequence[str] | str) -> list[str]:
    """Tags as stored: trimmed, unique in order; a string is split on commas (ASCII or Chinese)."""
    items = raw.replace("，", ",").replace("、", ",").split(",") if isinstance(raw, str) else raw
    tags = list(dict.fromkeys(" ".join(str(t).split()) for t in items if str(t).strip()))
    if len(tags) > TAGS_MAX:
        raise ValidationError(_("At most %(max)d tags.") % {"max": TAGS_MAX}, fields={"tags": ""})
    too_long = [t for t in tags if len(t) > TAG_MAX_LENGTH]
    if too_long:
        raise ValidationError(
            _("A tag may have at most %(max)d characters: “%(tag)s”.")
            % {"max": TAG_MAX_LENGTH, "tag": too_long[0]},
            fields={"tags": ""},
        )
    return tags


def _price(raw: Decimal | str | None, *, required: bool) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise ValidationError(_("A product page needs a price."), fields={"price": ""})
        return None
    try:
        price = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValidationError(_("The price is not a number."), fields={"price": ""}) from None
    if not price.is_finite() or price < 0 or price >= Decimal("1e10"):
        raise ValidationError(_("The price must be between 0 and 9,999,999,999.99."), fields={"price": ""})
    return price.quantize(Decimal("0.01"))


def link_url_clean(raw: str) -> str:
    url = (raw or "").strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc or len(url) > 1000:
        raise ValidationError(
            _("An external link must be an http:// or https:// address."),
            fields={"url": ""},
        )
    return url


def _category(category: ContentCategory | None, *, actor: Actor) -> ContentCategory | None:
    if category is not None and category.workspace_id != actor.workspace_id:
        raise ValidationError(_("Unknown category."), fields={"category": ""})
    return category


# Uploads -------------------------------------------------------------------------------------------


def image_check(upload: Upload, *, field: str) -> str:
    """Refuse anything but a real JPEG/PNG/GIF/WebP image of at most 10 MB and 40 megapixels.

    Returns the image format. The pixel count is read from the header before anything is decoded.
    """
    if upload.size is not None and upload.size > IMAGE_MAX_BYTES:
        raise ValidationError(
            _("The image is larger than %(max)d MB.") % {"max": IMAGE_MAX_BYTES // (1024 * 1024)},
            fields={field: ""},
        )
    not_an_image = ValidationError(
        _("The file is not an image Siyu can read (JPEG, PNG, GIF or WebP)."),
        fields={field: ""},
    )
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload) as image:
                image_format = image.format or ""
                width, height = image.size
                if width * height > IMAGE_MAX_PIXELS:
                    raise ValidationError(
                        _("The image has more than %(max)d megapixels.")
                        % {"max": IMAGE_MAX_PIXELS // 1_000_000},
                        fields={field: ""},
                    )
                image.verify()
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(
            _("The image has more than %(max)d megapixels.") % {"max": IMAGE_MAX_PIXELS // 1_000_000},
            fields={field: ""},
        ) from None
    except Exception:  # Pillow raises many kinds of errors on broken or foreign files
        raise not_an_image from None
    finally:
        upload.seek(0)
    if image_format not in IMAGE_FORMATS:
        raise not_an_image
    return image_format


def file_check(upload: Upload) -> None:
    if upload.size is None or upload.size > FILE_MAX_BYTES:
        raise ValidationError(
            _("The file is larger than %(max)d MB.") % {"max": FILE_MAX_BYTES // (1024 * 1024)},
            fields={"file": ""},
        )
    if upload.size == 0:
        raise ValidationError(_("The file is empty."), fields={"file": ""})


def _upload_name(upload: Upload) -> str:
    return Path(upload.name or "upload").name[-100:] or "upload"


def _delete_stored_on_commit(*names: str) -> None:
    """Remove replaced or orphaned files once the change that dropped them is committed."""
    from django.core.files.storage import default_storage

    kept = [name for name in names if name]

    def remove() -> None:
        for name in kept:
            default_storage.delete(name)

    if kept:
        transaction.on_commit(remove)


# Content -------------------------------------------------------------------------------------------


def _apply_kind_fields(
    content: Content,
    *,
    body: str,
    url: str,
    price: Decimal | str | None,
    file: Upload | None,
) -> None:
    """Fill the fields the content's kind uses and clear the others."""
    kind = content.kind
    content.body = body_sanitise(body) if kind in {ContentKind.ARTICLE, ContentKind.PRODUCT} else ""
    if kind == ContentKind.ARTICLE and not content.body:
        raise ValidationError(_("An article needs a body."), fields={"body": ""})
    content.price = _price(price, required=True) if kind == ContentKind.PRODUCT else None
    content.url = link_url_clean(url) if kind == ContentKind.LINK else ""
    if kind == ContentKind.POSTER:
        if file is not None:
            image_check(file, field="file")
        elif not content.file:
            raise ValidationError(_("A poster needs an image."), fields={"file": ""})
    elif kind == ContentKind.FILE:
        if file is not None:
            file_check(file)
        elif not content.file:
            raise ValidationError(_("Choose a file to share."), fields={"file": ""})
    elif file is not None or content.file:
        raise ValidationError(_("Only posters and files carry an uploaded file."), fields={"file": ""})


@transaction.atomic
def content_create(
    *,
    actor: Actor,
    kind: str,
    title: str,
    summary: str = "",
    body: str = "",
    url: str = "",
    price: Decimal | str | None = None,
    file: Upload | None = None,
    cover: Upload | None = None,
    category: ContentCategory | None = None,
    tags: Sequence[str] | str = (),
    is_published: bool = True,
) -> Content:
    actor.require(Permission.CONTENT_MANAGE)
    if kind not in ContentKind.values:
        raise ValidationError(_("Unknown content type."), fields={"kind": ""})
    content = Content(
        kind=kind,
        title=_title(title),
        summary=_summary(summary),
        category=_category(category, actor=actor),
        tags=tags_clean(tags),
        is_published=is_published,
        created_by=actor.member,
    )
    _apply_kind_fields(content, body=body, url=url, price=price, file=file)
    if cover is not None:
        image_check(cover, field="cover")
        content.cover.save(_upload_name(cover), cover, save=False)
    if file is not None:
        content.file.save(_upload_name(file), file, save=False)
    try:
        content.save()
    except Exception:
        for stored in (content.file, content.cover):
            if stored.name:
                stored.storage.delete(stored.name)
        raise
    return content


@transaction.atomic
def content_update(
    *,
    actor: Actor,
    content: Content,
    title: str,
    summary: str = "",
    body: str = "",
    url: str = "",
    price: Decimal | str | None = None,
    file: Upload | None = None,
    cover: Upload | None = None,
    cover_remove: bool = False,
    category: ContentCategory | None = None,
    tags: Sequence[str] | str = (),
    is_published: bool = True,
) -> Content:
    """Change a piece of content; its kind stays. `file` / `cover` None keeps the stored one."""
    actor.require(Permission.CONTENT_MANAGE)
    content.title = _title(title)
    content.summary = _summary(summary)
    content.category = _category(category, actor=actor)
    content.tags = tags_clean(tags)
    content.is_published = is_published
    _apply_kind_fields(content, body=body, url=url, price=price, file=file)
    replaced: list[str] = []
    if cover is not None:
        image_check(cover, field="cover")
        replaced.append(content.cover.name or "")
        content.cover.save(_upload_name(cover), cover, save=False)
    elif cover_remove and content.cover.name:
        replaced.append(content.cover.name)
        content.cover.name = ""
    if file is not None:
        replaced.append(content.file.name or "")
        content.file.save(_upload_name(file), file, save=False)
    content.save()
    _delete_stored_on_commit(*replaced)
    return content


@transaction.atomic
def content_delete(*, actor: Actor, content: Content) -> None:
    """Delete the content with its share links and reading records, and its files once committed."""
    actor.require(Permission.CONTENT_MANAGE)
    stored = [content.file.name or "", content.cover.name or ""]
    tokens = list(ShareLink.objects.filter(content=content).values_list("token", flat=True))
    content.delete()
    _delete_stored_on_commit(*stored)
    transaction.on_commit(lambda: _posters_forget(tokens))


# Categories ----------------------------------------------------------------------------------------


def _category_name(raw: str) -> str:
    name = (raw or "").strip()
    if not name or len(name) > CATEGORY_NAME_MAX:
        raise ValidationError(
            _("A category needs a name of 1 to %(max)d characters.") % {"max": CATEGORY_NAME_MAX},
            fields={"name": ""},
        )
    return name


def _category_name_free(name: str, *, exclude: ContentCategory | None = None) -> None:
    taken = ContentCategory.objects.filter(name=name)
    if exclude is not None:
        taken = taken.exclude(id=exclude.id)
    if taken.exists():
        raise Conflict(_("A category named “%(name)s” already exists.") % {"name": name}, fields={"name": ""})


@transaction.atomic
def content_category_create(*, actor: Actor, name: str) -> ContentCategory:
    actor.require(Permission.CONTENT_MANAGE)
    name = _category_name(name)
    _category_name_free(name)
    return ContentCategory.objects.create(name=name, sort_order=ContentCategory.objects.count())


@transaction.atomic
def content_category_update(
    *, actor: Actor, category: ContentCategory, name: str, sort_order: int | None = None
) -> ContentCategory:
    actor.require(Permission.CONTENT_MANAGE)
    category.name = _category_name(name)
    _category_name_free(category.name, exclude=category)
    if sort_order is not None:
        category.sort_order = max(0, sort_order)
    category.save(update_fields=["name", "sort_order"])
    return category


@transaction.atomic
def content_category_delete(*, actor: Actor, category: ContentCategory) -> None:
    """Delete a category; its content stays in the library, uncategorised."""
    actor.require(Permission.CONTENT_MANAGE)
    category.delete()


# Share links ---------------------------------------------------------------------------------------


def _token_new() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def share_link_get_or_create(*, actor: Actor, content: Content, channel: Channel | None = None) -> ShareLink:
    """The acting member's personal link to `content` (one per channel); made on first use."""
    actor.require(Permission.CONTENT_SHARE)
    member = actor.member
    if member is None:
        raise PermissionDenied(_("Only a member can have share links."))
    if content.workspace_id != actor.workspace_id or (
        channel is not None and channel.workspace_id != actor.workspace_id
    ):
        raise ValidationError(_("Unknown content or channel."))
    if not content.is_published:
        raise ValidationError(_("Publish the content before sharing it."), code="unpublished")
    existing = ShareLink.objects.filter(content=content, member=member, channel=channel).first()
    if existing is not None:
        return existing
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return ShareLink.objects.create(
                    content=content, member=member, channel=channel, token=_token_new()
                )
        except IntegrityError:
            # Either the same link was made at the same moment, or (rarely) the token was taken.
            existing = ShareLink.objects.filter(content=content, member=member, channel=channel).first()
            if existing is not None:
                return existing
    raise Conflict(_("Could not make a share link; try again."))


def share_url(*, share_link: ShareLink, base_url: str) -> str:
    """The public address of a share link on the site whose origin is `base_url`."""
    return base_url.rstrip("/") + reverse("share:open", kwargs={"token": share_link.token})


def share_link_qr_png(*, share_link: ShareLink, base_url: str, scale: int = 8, border: int = 2) -> bytes:
    """A PNG QR code of the share link's public URL, `scale` pixels per module."""
    qr = segno.make(share_url(share_link=share_link, base_url=base_url), error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=max(1, min(scale, 40)), border=border)
    return buffer.getvalue()


def share_link_qr_svg(*, share_link: ShareLink, base_url: str, scale: int = 4, border: int = 2) -> str:
    qr = segno.make(share_url(share_link=share_link, base_url=base_url), error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=max(1, min(scale, 40)), border=border, xmldecl=False, svgns=True)
    return buffer.getvalue().decode()


def share_source_get_or_create() -> Source:
    """The active workspace's source for pages served through share links (made on first use).

    Share pages are served by Siyu itself to anyone, so the source accepts any origin.
    """
    workspace_id = active_workspace_id()
    source = Source.objects.filter(name=SHARE_SOURCE_NAME).first()
    if source is not None:
        return source
    try:
        with transaction.atomic():
            return Source.objects.create(
                workspace_id=workspace_id,  # type: ignore[misc]
                name=SHARE_SOURCE_NAME,
                kind=SourceKind.WECHAT_H5,
                write_key=write_key_new(),
                allowed_origins=[ANY_ORIGIN],
            )
    except IntegrityError:
        return Source.objects.get(name=SHARE_SOURCE_NAME)


# Posters -------------------------------------------------------------------------------------------

# Fonts tried in order for the name on a poster: CJK first (names are mostly Chinese), then any
# FreeType font, then Pillow's own. A missing font never stops a poster.
FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # index 2: Simplified Chinese
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc", 2),
    ("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0),
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def poster_font(size: int) -> Font:
    configured = getattr(settings, "SIYU_POSTER_FONT", "")
    candidates = ((configured, 0), *FONT_CANDIDATES) if configured else FONT_CANDIDATES
    for path, index in candidates:
        if not os.path.exists(path):
            continue
        try:
            return ImageFont.truetype(path, size=size, index=index)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ImportError, TypeError):  # a Pillow without FreeType has only the bitmap font
        return ImageFont.load_default()


def _poster_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "posters"


def _posters_forget(tokens: Sequence[str]) -> None:
    folder = _poster_dir()
    if not tokens or not folder.is_dir():
        return
    for token in tokens:
        for stale in folder.glob(f"{token}-*.png"):
            stale.unlink(missing_ok=True)


def _poster_key(*, share_link: ShareLink, url: str) -> str:
    stored = share_link.content.file
    storage, name = stored.storage, stored.name or ""
    try:
        modified = storage.get_modified_time(name).isoformat()
        size = storage.size(name)
    except (OSError, NotImplementedError):
        modified, size = "", 0
    member_name = share_link.member.display_name
    digest = hashlib.sha256("\x1f".join([name, str(size), modified, member_name, url]).encode())
    return digest.hexdigest()[:20]


def _text_fit(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…" if text else ""


def _poster_render(*, poster: Image.Image, url: str, name: str) -> Image.Image:
    image = ImageOps.exif_transpose(poster).convert("RGB")
    width, height = image.size
    short = min(width, height)
    qr = segno.make(url, error="m")
    modules = int(qr.symbol_size(scale=1, border=0)[0])
    wanted = max(int(short * 0.22), min(120, int(short * 0.45)))
    scale = max(1, wanted // modules)
    qr_side = modules * scale
    pad = max(4, qr_side // 10)
    font = poster_font(max(10, qr_side // 8))
    draw_probe = ImageDraw.Draw(image)
    text = _text_fit(draw_probe, name, font, qr_side)
    _left, top, _right, bottom = draw_probe.textbbox((0, 0), text or "M", font=font)
    text_height = int(bottom - top + 0.5)
    card_w = qr_side + 2 * pad
    card_h = pad + qr_side + pad // 2 + text_height + pad
    margin = max(4, short // 30)
    x0, y0 = width - margin - card_w, height - margin - card_h
    x0, y0 = max(0, x0), max(0, y0)

    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    shadow = ImageDraw.Draw(overlay)
    radius = max(4, pad)
    shadow.rounded_rectangle(
        (x0 + 2, y0 + 3, x0 + card_w + 2, y0 + card_h + 3), radius=radius, fill=(0, 0, 0, 60)
    )
    shadow.rounded_rectangle((x0, y0, x0 + card_w, y0 + card_h), radius=radius, fill=(255, 255, 255, 255))
    composed = Image.alpha_composite(image.convert("RGBA"), overlay)

    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=scale, border=0)
    buffer.seek(0)
    with Image.open(buffer) as qr_image:
        composed.paste(qr_image.convert("RGBA"), (x0 + pad, y0 + pad))
    draw = ImageDraw.Draw(composed)
    text_w = draw.textlength(text, font=font)
    draw.text(
        (x0 + pad + (qr_side - text_w) / 2, y0 + pad + qr_side + pad // 2 - top),
        text,
        font=font,
        fill=(33, 37, 41, 255),
    )
    return composed.convert("RGB")


def poster_compose(*, share_link: ShareLink, base_url: str) -> Path:
    """The poster with the sharer's QR code and name on a white card in its bottom-right corner.

    Built once per poster file, member name and URL, and kept as a PNG under MEDIA_ROOT/posters/.
    """
    content: Content = share_link.content
    if content.kind != ContentKind.POSTER or not content.file:
        raise ValidationError(_("Only posters can be composed with a QR code."))
    url = share_url(share_link=share_link, base_url=base_url)
    folder = _poster_dir()
    target = folder / f"{share_link.token}-{_poster_key(share_link=share_link, url=url)}.png"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with content.file.open("rb") as stored, Image.open(stored) as poster:
        composed = _poster_render(poster=poster, url=url, name=share_link.member.display_name)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{share_link.token}-", suffix=".png")
    try:
        with os.fdopen(handle, "wb") as out:
            composed.save(out, format="PNG", optimize=True)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; it is served like any other media file
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    for stale in folder.glob(f"{share_link.token}-*.png"):
        if stale != target:
            stale.unlink(missing_ok=True)
    return target
