"""Contact settings pages: tag groups and tags, custom field definitions, acquisition channels.

Same shape as the workspace settings pages: a full page, or its `section` for htmx; every form posts
to its own URL and answers with the refreshed section (htmx) or a redirect (plain browser).
"""

from dataclasses import dataclass, field
from uuid import UUID

from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.contacts.forms_settings import (
    TAG_COLORS,
    ChannelEditForm,
    ChannelForm,
    CustomFieldCreateForm,
    CustomFieldUpdateForm,
    TagForm,
    TagGroupForm,
)
from siyu.contacts.models import Tag, TagGroup
from siyu.contacts.selectors import (
    channel_get,
    channel_list,
    custom_field_get,
    custom_field_list,
    tag_contact_counts,
    tag_get,
    tag_group_get,
    tag_group_list,
)
from siyu.contacts.services import (
    channel_create,
    channel_update,
    custom_field_create,
    custom_field_delete,
    custom_field_update,
    tag_create,
    tag_delete,
    tag_group_create,
    tag_group_delete,
    tag_group_update,
    tag_update,
)
from siyu.core.errors import DomainError
from siyu.core.web import (
    ActorRequest,
    actor_required,
    form_add_domain_errors,
    is_htmx,
    page_or_section,
    write_succeeded,
)
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission

Request = ActorRequest[Actor]
KNOWN_COLORS = frozenset(name for name, _label in TAG_COLORS)


def _invalid_status(request: Request) -> int:
    """htmx swaps only 2xx answers, so a form with errors is 200 there and 422 for a plain browser."""
    return 200 if is_htmx(request) else 422


# Tags ----------------------------------------------------------------------------------------------


@dataclass
class TagRow:
    tag: Tag
    contact_count: int
    color_class: str
    form: TagForm | None = None  # set while this tag is being edited


@dataclass
class GroupRow:
    group: TagGroup
    tags: list[TagRow]
    tag_form: TagForm
    form: TagGroupForm | None = None  # set while this group is being renamed
    contact_tags: int = field(default=0)


def _color_class(color: str) -> str:
    return f"bg-{color}-lt" if color in KNOWN_COLORS else "bg-secondary-lt"


def _tags_render(
    request: Request,
    *,
    group_form: TagGroupForm | None = None,
    group_edit: tuple[UUID, TagGroupForm | None] | None = None,
    tag_add: tuple[UUID, TagForm] | None = None,
    tag_edit: tuple[UUID, TagForm | None] | None = None,
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    counts = tag_contact_counts()
    rows: list[GroupRow] = []
    for group in tag_group_list():
        tags: list[TagRow] = []
        for tag in group.tags.all():
            row = TagRow(tag=tag, contact_count=counts.get(tag.id, 0), color_class=_color_class(tag.color))
            if tag_edit is not None and tag_edit[0] == tag.id:
                row.form = tag_edit[1] or TagForm(tag=tag, auto_id=f"id_tag_{tag.id}_%s")
            tags.append(row)
        adding = tag_add is not None and tag_add[0] == group.id
        group_row = GroupRow(
            group=group,
            tags=tags,
            tag_form=tag_add[1]
            if tag_add is not None and adding
            else TagForm(auto_id=f"id_new_{group.id}_%s"),
            contact_tags=sum(t.contact_count for t in tags),
        )
        if group_edit is not None and group_edit[0] == group.id:
            group_row.form = group_edit[1] or TagGroupForm(group=group, auto_id=f"id_group_{group.id}_%s")
        rows.append(group_row)
    context = {
        "groups": rows,
        "group_form": group_form or TagGroupForm(),
        "notice": notice,
        "error": error,
    }
    return page_or_section(
        request,
        page="contacts/settings/tags.html",
        section="contacts/settings/partials/tags_section.html",
        context=context,
        status=status,
    )


@actor_required(Permission.TAGS_MANAGE)
@require_GET
def tags(request: Request) -> HttpResponse:
    return _tags_render(request)


@actor_required(Permission.TAGS_MANAGE)
@require_POST
def tag_group_add(request: Request) -> HttpResponse:
    form = TagGroupForm(request.POST)
    if form.is_valid():
        try:
            group = tag_group_create(
                actor=request.actor,
                name=form.cleaned_data["name"],
                is_exclusive=form.cleaned_data["is_exclusive"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            notice = _("Tag group “%(name)s” was created.") % {"name": group.name}
            return write_succeeded(
                request, url_name="contact_settings:tags", notice=notice, render_section=_tags_render
            )
    return _tags_render(request, group_form=form, status=_invalid_status(request))


@actor_required(Permission.TAGS_MANAGE)
@require_http_methods(["GET", "POST"])
def tag_group_edit(request: Request, group_id: UUID) -> HttpResponse:
    group = tag_group_get(group_id=group_id)
    if request.method == "GET":
        return _tags_render(request, group_edit=(group.id, None))
    form = TagGroupForm(request.POST, group=group, auto_id=f"id_group_{group.id}_%s")
    if form.is_valid():
        try:
            tag_group_update(
                actor=request.actor,
                group=group,
                name=form.cleaned_data["name"],
                is_exclusive=form.cleaned_data["is_exclusive"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            notice = _("Tag group “%(name)s” was saved.") % {"name": group.name}
            return write_succeeded(
                request, url_name="contact_settings:tags", notice=notice, render_section=_tags_render
            )
    return _tags_render(request, group_edit=(group.id, form), status=_invalid_status(request))


@actor_required(Permission.TAGS_MANAGE)
@require_POST
def tag_group_delete_view(request: Request, group_id: UUID) -> HttpResponse:
    group = tag_group_get(group_id=group_id)
    tag_group_delete(actor=request.actor, group=group)
    notice = _("Tag group “%(name)s” and its tags were deleted.") % {"name": group.name}
    return write_succeeded(
        request, url_name="contact_settings:tags", notice=notice, render_section=_tags_render
    )


@actor_required(Permission.TAGS_MANAGE)
@require_POST
def tag_add(request: Request, group_id: UUID) -> HttpResponse:
    group = tag_group_get(group_id=group_id)
    form = TagForm(request.POST, auto_id=f"id_new_{group.id}_%s")
    if form.is_valid():
        try:
            tag = tag_create(
                actor=request.actor,
                group=group,
                name=form.cleaned_data["name"],
                color=form.cleaned_data["color"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            notice = _("Tag “%(name)s” was added to “%(group)s”.") % {"name": tag.name, "group": group.name}
            return write_succeeded(
                request, url_name="contact_settings:tags", notice=notice, render_section=_tags_render
            )
    return _tags_render(request, tag_add=(group.id, form), status=_invalid_status(request))


@actor_required(Permission.TAGS_MANAGE)
@require_http_methods(["GET", "POST"])
def tag_edit(request: Request, tag_id: UUID) -> HttpResponse:
    tag = tag_get(tag_id=tag_id)
    if request.method == "GET":
        return _tags_render(request, tag_edit=(tag.id, None))
    form = TagForm(request.POST, tag=tag, auto_id=f"id_tag_{tag.id}_%s")
    if form.is_valid():
        try:
            tag_update(
                actor=request.actor, tag=tag, name=form.cleaned_data["name"], color=form.cleaned_data["color"]
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            notice = _("Tag “%(name)s” was saved.") % {"name": tag.name}
            return write_succeeded(
                request, url_name="contact_settings:tags", notice=notice, render_section=_tags_render
            )
    return _tags_render(request, tag_edit=(tag.id, form), status=_invalid_status(request))


@actor_required(Permission.TAGS_MANAGE)
@require_POST
def tag_delete_view(request: Request, tag_id: UUID) -> HttpResponse:
    tag = tag_get(tag_id=tag_id)
    tag_delete(actor=request.actor, tag=tag)
    notice = _("Tag “%(name)s” was deleted and removed from its contacts.") % {"name": tag.name}
    return write_succeeded(
        request, url_name="contact_settings:tags", notice=notice, render_section=_tags_render
    )


# Custom fields -------------------------------------------------------------------------------------


def _fields_render(
    request: Request,
    *,
    add_form: CustomFieldCreateForm | None = None,
    editing_id: UUID | None = None,
    edit_form: CustomFieldUpdateForm | None = None,
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    if editing_id is not None and edit_form is None:
        edit_form = CustomFieldUpdateForm(field=custom_field_get(field_id=editing_id), auto_id="id_edit_%s")
    context = {
        "fields": custom_field_list(),
        "add_form": add_form or CustomFieldCreateForm(),
        "editing_id": editing_id,
        "edit_form": edit_form,
        "notice": notice,
        "error": error,
    }
    return page_or_section(
        request,
        page="contacts/settings/fields.html",
        section="contacts/settings/partials/fields_section.html",
        context=context,
        status=status,
    )


@actor_required(Permission.FIELDS_MANAGE)
@require_GET
def fields(request: Request) -> HttpResponse:
    return _fields_render(request)


@actor_required(Permission.FIELDS_MANAGE)
@require_POST
def field_add(request: Request) -> HttpResponse:
    form = CustomFieldCreateForm(request.POST)
    if form.is_valid():
        try:
            created = custom_field_create(
                actor=request.actor,
                label=form.cleaned_data["label"],
                type=form.cleaned_data["type"],
                key=form.cleaned_data["key"],
                options=form.cleaned_data["options"],
                is_required=form.cleaned_data["is_required"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            notice = _("Custom field “%(label)s” was created with the key %(key)s.") % {
                "label": created.label,
                "key": created.key,
            }
            return write_succeeded(
                request, url_name="contact_settings:fields", notice=notice, render_section=_fields_render
            )
    return _fields_render(request, add_form=form, status=_invalid_status(request))


@actor_required(Permission.FIELDS_MANAGE)
@require_http_methods(["GET", "POST"])
def field_edit(request: Request, field_id: UUID) -> HttpResponse:
    definition = custom_field_get(field_id=field_id)
    if request.method == "GET":
        return _fields_render(request, editing_id=definition.id)
    form = CustomFieldUpdateForm(request.POST, field=definition, auto_id="id_edit_%s")
    if form.is_valid():
        try:
            custom_field_update(
                actor=request.actor,
                field=definition,
                label=form.cleaned_data["label"],
                options=form.cleaned_data.get("options"),
                is_required=form.cleaned_data["is_required"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            notice = _("Custom field “%(label)s” was saved.") % {"label": definition.label}
            return write_succeeded(
                request, url_name="contact_settings:fields", notice=notice, render_section=_fields_render
            )
    return _fields_render(request, editing_id=definition.id, edit_form=form, status=_invalid_status(request))


@actor_required(Permission.FIELDS_MANAGE)
@require_POST
def field_delete(request: Request, field_id: UUID) -> HttpResponse:
    definition = custom_field_get(field_id=field_id)
    custom_field_delete(actor=request.actor, field=definition)
    notice = _("Custom field “%(label)s” was deleted.") % {"label": definition.label}
    return write_succeeded(
        request, url_name="contact_settings:fields", notice=notice, render_section=_fields_render
    )


# Channels ------------------------------------------------------------------------------------------


def _channels_render(
    request: Request,
    *,
    form: ChannelForm | None = None,
    editing_id: UUID | None = None,
    edit_form: ChannelEditForm | None = None,
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    channels = list(channel_list())
    if editing_id is not None and edit_form is None:
        editing = next(c for c in channels if c.id == editing_id)
        edit_form = ChannelEditForm(channel=editing, auto_id="id_edit_%s")
    context = {
        "channels": channels,
        "form": form or ChannelForm(),
        "editing_id": editing_id,
        "edit_form": edit_form,
        "notice": notice,
        "error": error,
    }
    return page_or_section(
        request,
        page="contacts/settings/channels.html",
        section="contacts/settings/partials/channels_section.html",
        context=context,
        status=status,
    )


@actor_required(Permission.FIELDS_MANAGE)
@require_GET
def channels(request: Request) -> HttpResponse:
    return _channels_render(request)


@actor_required(Permission.FIELDS_MANAGE)
@require_POST
def channel_add(request: Request) -> HttpResponse:
    form = ChannelForm(request.POST)
    if form.is_valid():
        try:
            channel = channel_create(
                actor=request.actor,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                code=form.cleaned_data["code"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            notice = _("Channel “%(name)s” was created with the code %(code)s.") % {
                "name": channel.name,
                "code": channel.code,
            }
            return write_succeeded(
                request, url_name="contact_settings:channels", notice=notice, render_section=_channels_render
            )
    return _channels_render(request, form=form, status=_invalid_status(request))


@actor_required(Permission.FIELDS_MANAGE)
@require_http_methods(["GET", "POST"])
def channel_edit(request: Request, channel_id: UUID) -> HttpResponse:
    channel = channel_get(channel_id=channel_id)
    if request.method == "GET":
        return _channels_render(request, editing_id=channel.id)
    form = ChannelEditForm(request.POST, channel=channel, auto_id="id_edit_%s")
    if form.is_valid():
        try:
            channel_update(
                actor=request.actor,
                channel=channel,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                code=form.cleaned_data["code"],
                utm_sources=form.cleaned_data["utm_sources"],
                referrer_domains=form.cleaned_data["referrer_domains"],
                cost_unit=form.cleaned_data["cost_unit"],
                unit_cost=form.cleaned_data["unit_cost"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            notice = _("Channel “%(name)s” was saved.") % {"name": channel.name}
            return write_succeeded(
                request, url_name="contact_settings:channels", notice=notice, render_section=_channels_render
            )
    return _channels_render(request, editing_id=channel.id, edit_form=form, status=_invalid_status(request))
