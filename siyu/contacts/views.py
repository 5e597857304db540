"""Contact pages: list (filters, saved views, columns, bulk actions), detail, create, edit, merge.

Thin on purpose: reads through selectors, writes through services, and one list view serves both
the full page and the HTMX table fragment.
"""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.contacts.cleaning import clean_custom_value
from siyu.contacts.filters import CUSTOM_PREFIX, filters_from_query, filters_to_query
from siyu.contacts.forms import (
    POOL,
    BulkAction,
    ContactForm,
    FollowUpForm,
    IdentityForm,
    OwnerForm,
    SavedViewForm,
    StageForm,
    TagAddForm,
)
from siyu.contacts.models import Contact, CustomField, Stage, mask_phone
from siyu.contacts.selectors import (
    ContactFilters,
    channel_list,
    contact_count_capped,
    contact_get_for,
    contact_list,
    contact_page,
    contact_page_before,
    contact_tags,
    contact_tags_map,
    contacts_by_ids,
    custom_field_list,
    follow_up_get,
    follow_up_list,
    identity_list,
    saved_view_get,
    saved_view_list,
    stage_history,
    tag_get,
    tag_list,
    timeline_list,
)
from siyu.contacts.services import (
    MERGE_RULE,
    contact_create,
    contact_delete,
    contact_merge,
    contact_merge_preview,
    contact_owner_change,
    contact_owner_changeable,
    contact_phone_reveal,
    contact_stage_change,
    contact_tags_add,
    contact_tags_remove,
    contact_update,
    contacts_tag_bulk,
    follow_up_complete,
    follow_up_create,
    identity_add,
    identity_remove,
    saved_view_create,
    saved_view_delete,
)
from siyu.core.errors import Conflict, DomainError
from siyu.core.pagination import encode_cursor
from siyu.core.text import query_storable
from siyu.core.web import ActorRequest, actor_required, domain_error_message, form_add_domain_errors, is_htmx
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import Member
from siyu.tenancy.roles import Permission
from siyu.tenancy.selectors import member_get, member_list

PAGE_SIZE = 50
COUNT_CAP = 10_000
# Per-row bulk actions (owner, stage, delete) touch rows one by one; tagging runs in chunks unbounded.
BULK_ROW_LIMIT = 5_000
COLUMNS_SESSION_KEY = "contacts.columns"
TABLE_TARGET = "contact-table"

BUILTIN_COLUMNS: dict[str, str | Promise] = {
    "name": gettext_lazy("Name"),
    "phone": gettext_lazy("Phone"),
    "email": gettext_lazy("Email"),
    "stage": gettext_lazy("Stage"),
    "strength": gettext_lazy("Connection"),
    "owner": gettext_lazy("Owner"),
    "channel": gettext_lazy("Channel"),
    "tags": gettext_lazy("Tags"),
    "city": gettext_lazy("City"),
    "company": gettext_lazy("Company"),
    "created_at": gettext_lazy("Created"),
    "updated_at": gettext_lazy("Updated"),
}
DEFAULT_COLUMNS = ["name", "phone", "stage", "owner", "channel", "tags", "created_at"]
CUSTOM_COLUMN = "cf."


@dataclass(frozen=True)
class Column:
    key: str
    label: str | Promise
    custom_field: CustomField | None = None


def _url_or_none(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def _owner_choices(actor: Actor) -> list[Member]:
    """Whom this actor may hand contacts to: anyone with the assign permission, else only themselves."""
    if actor.can(Permission.CONTACTS_ASSIGN):
        return list(member_list())
    return [actor.member] if actor.member else []


# ---------------------------------------------------------------------------------------------- list


def _available_columns(custom_fields: list[CustomField]) -> list[Column]:
    # Labels are resolved once here, not once per cell of a 50-row page.
    return [Column(key, str(label)) for key, label in BUILTIN_COLUMNS.items()] + [
        Column(f"{CUSTOM_COLUMN}{f.key}", f.label, f) for f in custom_fields
    ]


def _chosen_columns(request: ActorRequest[Actor], available: list[Column]) -> list[Column]:
    """Columns from the query (?col=…, remembered in the session), else the session, else the defaults."""
    by_key = {c.key: c for c in available}
    wanted = request.GET.getlist("col")
    if wanted:
        keys = [k for k in dict.fromkeys(wanted) if k in by_key]
        if request.session.get(COLUMNS_SESSION_KEY) != keys:  # a session save is a database write
            request.session[COLUMNS_SESSION_KEY] = keys
    else:
        keys = [k for k in request.session.get(COLUMNS_SESSION_KEY, DEFAULT_COLUMNS) if k in by_key]
    if "name" not in keys:
        keys.insert(0, "name")
    return [by_key[k] for k in keys]


def _typed_custom_filters(filters: ContactFilters, custom_fields: list[CustomField]) -> list[str]:
    """Turn ?cf_<key>=text into each field's stored JSON form; returns human errors for bad values."""
    by_key = {f.key: f for f in custom_fields}
    typed: dict[str, Any] = {}
    errors: list[str] = []
    for key, raw in filters.custom.items():
        definition = by_key.get(key)
        if definition is None:
            continue
        try:
            value = clean_custom_value(definition, raw)
        except ValueError as exc:
            errors.append(f"{definition.label}: {exc}")
            continue
        typed[key] = value
    filters.custom = typed
    return errors


def _list_query(query: QueryDict) -> str:
    """The filter part of the current query string (no cursors, no columns)."""
    kept = query.copy()
    for key in ("cursor", "before", "col", "view"):
        kept.pop(key, None)
    return kept.urlencode()


@require_GET
@actor_required(Permission.CONTACTS_READ)
def contact_list_view(request: ActorRequest[Actor]) -> HttpResponse:
    actor = request.actor
    view_id = request.GET.get("view")
    if view_id:
        saved = saved_view_get(actor=actor, view_id=view_id)
        query = filters_to_query(ContactFilters.from_dict(saved.filters))
        saved_columns = "&".join(f"col={c}" for c in saved.columns)
        return redirect(f"{reverse('contacts:list')}?{'&'.join(p for p in (query, saved_columns) if p)}")

    custom_fields = list(custom_field_list())
    filters = filters_from_query(request.GET)
    filter_errors = _typed_custom_filters(filters, custom_fields)
    available = _available_columns(custom_fields)
    columns = _chosen_columns(request, available)

    before = request.GET.get("before")
    cursor = request.GET.get("cursor")
    if before:
        page = contact_page_before(actor=actor, filters=filters, cursor=before, limit=PAGE_SIZE)
        contacts = page.items
        previous_cursor = encode_cursor(contacts[0].pk) if page.has_more else None
        next_cursor = encode_cursor(contacts[-1].pk) if contacts else None
    else:
        page = contact_page(actor=actor, filters=filters, cursor=cursor, limit=PAGE_SIZE)
        contacts = page.items
        previous_cursor = (encode_cursor(contacts[0].pk) if contacts else cursor) if cursor else None
        next_cursor = page.next_cursor
    tags = contact_tags_map(contact_ids=[c.id for c in contacts])
    rows = [{"contact": c, "tags": tags.get(c.id, [])} for c in contacts]
    total = None if (cursor or before) else contact_count_capped(actor=actor, filters=filters, cap=COUNT_CAP)

    filter_query = _list_query(request.GET)
    context: dict[str, Any] = {
        "rows": rows,
        "columns": columns,
        "available_columns": available,
        "chosen_keys": [c.key for c in columns],
        "filters": filters,
        "filter_errors": filter_errors,
        "filter_query": filter_query,
        "column_query": "&".join(f"col={c.key}" for c in columns),
        "next_cursor": next_cursor,
        "previous_cursor": previous_cursor,
        "total": total,
        "total_capped": total is not None and total > COUNT_CAP,
        "count_cap": COUNT_CAP,
        "page_size": PAGE_SIZE,
        "table_target": TABLE_TARGET,
    }
    if is_htmx(request) and request.headers.get("HX-Target") == TABLE_TARGET:
        return render(request, "contacts/partials/table.html", context)

    tags_all = list(tag_list())
    owners = _owner_choices(actor)
    context.update(
        stages=list(Stage),
        channels=list(channel_list()),
        tags_all=tags_all,
        members=list(member_list()),
        custom_fields=custom_fields,
        custom_values={k: request.GET.get(f"{CUSTOM_PREFIX}{k}", "") for k in (f.key for f in custom_fields)},
        saved_views=list(saved_view_list(actor=actor)),
        saved_view_form=SavedViewForm(),
        bulk_form=BulkAction(tags=tags_all, owners=owners),
        export_url=_url_or_none("imports:export_create") if actor.can(Permission.CONTACTS_EXPORT) else None,
        create_url=reverse("contacts:create") if actor.can(Permission.CONTACTS_WRITE) else None,
        can={
            "write": actor.can(Permission.CONTACTS_WRITE),
            "assign": actor.can(Permission.CONTACTS_ASSIGN),
            "delete": actor.can(Permission.CONTACTS_DELETE),
        },
    )
    return render(request, "contacts/list.html", context)


def _back_to_list(query: str) -> HttpResponse:
    url = reverse("contacts:list")
    return redirect(f"{url}?{query}" if query else url)


@require_POST
@actor_required(Permission.CONTACTS_WRITE)
def contact_bulk(request: ActorRequest[Actor]) -> HttpResponse:
    actor = request.actor
    tags_all = list(tag_list())
    form = BulkAction(request.POST, tags=tags_all, owners=_owner_choices(actor))
    query = request.POST.get("query", "")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return _back_to_list(query)
    data = form.cleaned_data
    custom_fields = list(custom_field_list())
    if data["target"] == "all":
        filters = filters_from_query(query_storable(QueryDict(query)))
        _typed_custom_filters(filters, custom_fields)
        contacts = contact_list(actor=actor, filters=filters)
    else:
        contacts = contacts_by_ids(actor=actor, contact_ids=data["ids"])
    action = data["action"]
    try:
        if action in ("tag", "untag"):
            tag = tag_get(tag_id=data["tag"])
            changed = contacts_tag_bulk(actor=actor, contacts=contacts, tags=[tag], remove=action == "untag")
        else:
            rows = list(contacts.select_related("owner")[: BULK_ROW_LIMIT + 1])
            if len(rows) > BULK_ROW_LIMIT:
                messages.error(
                    request,
                    _(
                        "This would change more than %(limit)s contacts at once. Narrow the filters, "
                        "or use tags, which work on any number of contacts."
                    )
                    % {"limit": f"{BULK_ROW_LIMIT:,}"},
                )
                return _back_to_list(query)
            changed = _bulk_per_row(actor, action, rows, data)
    except DomainError as exc:
        messages.error(request, domain_error_message(exc))
        return _back_to_list(query)
    messages.success(
        request,
        ngettext("%(count)d contact changed.", "%(count)d contacts changed.", changed) % {"count": changed},
    )
    return _back_to_list(query)


def _bulk_per_row(actor: Actor, action: str, rows: list[Contact], data: dict[str, Any]) -> int:
    if action == "assign":
        owner = None if data["owner"] == POOL else member_get(member_id=data["owner"])
        return contact_owner_change(actor=actor, contacts=rows, owner=owner)
    if action == "stage":
        return sum(
            contact_stage_change(actor=actor, contact=c, stage=data["stage"], reason="bulk", manual=True)
            for c in rows
        )
    actor.require(Permission.CONTACTS_DELETE)
    for contact in rows:
        contact_delete(actor=actor, contact=contact)
    return len(rows)


@require_POST
@actor_required(Permission.CONTACTS_READ)
def saved_view_save(request: ActorRequest[Actor]) -> HttpResponse:
    form = SavedViewForm(request.POST)
    query = request.POST.get("query", "")
    if not form.is_valid():
        messages.error(request, _("Give the view a name of 1 to 100 characters."))
        return _back_to_list(query)
    submitted = query_storable(QueryDict(query))
    filters = filters_from_query(submitted)
    columns = submitted.getlist("col") or request.session.get(COLUMNS_SESSION_KEY, DEFAULT_COLUMNS)
    try:
        view = saved_view_create(
            actor=request.actor,
            name=form.cleaned_data["name"],
            filters=filters,
            columns=columns,
            is_shared=form.cleaned_data["is_shared"],
        )
    except DomainError as exc:
        messages.error(request, domain_error_message(exc))
        return _back_to_list(query)
    messages.success(request, _("Saved the view “%(name)s”.") % {"name": view.name})
    return redirect(f"{reverse('contacts:list')}?view={view.id}")


@require_POST
@actor_required(Permission.CONTACTS_READ)
def saved_view_remove(request: ActorRequest[Actor], view_id: UUID) -> HttpResponse:
    view = saved_view_get(actor=request.actor, view_id=view_id)
    try:
        saved_view_delete(actor=request.actor, view=view)
    except DomainError as exc:
        messages.error(request, domain_error_message(exc))
    else:
        messages.success(request, _("Deleted the view “%(name)s”.") % {"name": view.name})
    return redirect("contacts:list")


# ---------------------------------------------------------------------------------- create / edit


def _contact_form(actor: Actor, data: Any = None, contact: Contact | None = None) -> ContactForm:
    return ContactForm(
        data,
        custom_fields=list(custom_field_list()),
        channels=list(channel_list()),
        owners=_owner_choices(actor),
        contact=contact,
        initial=None if contact else {"owner": str(actor.member_id or POOL)},
    )


@require_http_methods(["GET", "POST"])
@actor_required(Permission.CONTACTS_WRITE)
def contact_create_view(request: ActorRequest[Actor]) -> HttpResponse:
    actor = request.actor
    form = _contact_form(actor, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            contact = contact_create(actor=actor, data=form.payload())
        except DomainError as exc:
            form_add_domain_errors(form, exc, field_map=ContactForm.error_field_map(form.custom_fields))
        else:
            messages.success(request, _("Created the contact %(name)s.") % {"name": contact})
            return redirect("contacts:detail", contact_id=contact.id)
    status = 400 if form.is_bound else 200
    return render(request, "contacts/form.html", {"form": form, "contact": None}, status=status)


@require_http_methods(["GET", "POST"])
@actor_required(Permission.CONTACTS_WRITE)
def contact_edit_view(request: ActorRequest[Actor], contact_id: UUID) -> HttpResponse:
    actor = request.actor
    contact = contact_get_for(actor, contact_id)
    if contact.id != contact_id:
        return redirect("contacts:edit", contact_id=contact.id)
    form = _contact_form(actor, request.POST if request.method == "POST" else None, contact)
    if request.method == "POST" and form.is_valid():
        try:
            contact_update(actor=actor, contact=contact, data=form.payload())
        except DomainError as exc:
            form_add_domain_errors(form, exc, field_map=ContactForm.error_field_map(form.custom_fields))
        else:
            messages.success(request, _("Saved the profile."))
            return redirect("contacts:detail", contact_id=contact.id)
    status = 400 if form.is_bound else 200
    return render(request, "contacts/form.html", {"form": form, "contact": contact}, status=status)


# ------------------------------------------------------------------------------------------ detail


def _detail_context(actor: Actor, contact: Contact) -> dict[str, Any]:
    custom_fields = list(custom_field_list())
    current_tags = contact_tags(contact=contact)
    current_ids = {t.id for t in current_tags}
    return {
        "contact": contact,
        "custom_values": [(f, contact.custom.get(f.key)) for f in custom_fields if f.key in contact.custom],
        "identities": list(identity_list(contact=contact)),
        "tags": current_tags,
        "stage_history": list(stage_history(contact=contact)),
        "follow_ups": list(follow_up_list(contact=contact)[:50]),
        "timeline": timeline_list(contact=contact),
        "stages": list(Stage),
        "stage_form": StageForm(initial={"stage": contact.stage}),
        "owner_form": OwnerForm(
            owners=_owner_choices(actor), initial={"owner": str(contact.owner_id or POOL)}
        ),
        "identity_form": IdentityForm(),
        "tag_form": TagAddForm(tags=[t for t in tag_list() if t.id not in current_ids]),
        "follow_up_form": FollowUpForm(),
        "can": {
            "write": actor.can(Permission.CONTACTS_WRITE),
            "assign": contact_owner_changeable(actor=actor, contact=contact),
            "merge": actor.can(Permission.CONTACTS_MERGE),
            "delete": actor.can(Permission.CONTACTS_DELETE),
            "reveal": actor.can(Permission.CONTACTS_REVEAL_PHONE),
            "see_segments": actor.can(Permission.SEGMENTS_READ),
        },
    }


@require_GET
@actor_required(Permission.CONTACTS_READ)
def contact_detail_view(request: ActorRequest[Actor], contact_id: UUID) -> HttpResponse:
    contact = contact_get_for(request.actor, contact_id)
    if contact.id != contact_id:  # merged away: the survivor's page is the one to keep
        return redirect("contacts:detail", contact_id=contact.id, permanent=True)
    return render(request, "contacts/detail.html", _detail_context(request.actor, contact))


def _back_to_detail(contact: Contact, anchor: str = "") -> HttpResponse:
    return redirect(reverse("contacts:detail", kwargs={"contact_id": contact.id}) + anchor)


@require_POST
@actor_required(Permission.CONTACTS_WRITE)
def contact_stage_view(request: ActorRequest[Actor], contact_id: UUID) -> HttpResponse:
    contact = contact_get_for(request.actor, contact_id)
    form = StageForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the lifecycle stages."))
    elif contact_stage_change(
        actor=request.actor,
        contact=contact,
        stage=form.cleaned_data["stage"],
        reason=form.cleaned_data["reason"],
        manual=True,
    ):
        messages.success(request, _("Moved to the stage %(stage)s.") % {"stage": Stage(contact.stage).label})
    else:
        messages.info(request, _("The contact is already at that stage."))
    return _back_to_detail(contact, "#stage")


@require_POST
@actor_required(Permission.CONTACTS_WRITE)
def contact_owner_view(request: ActorRequest[Actor], contact_id: UUID) -> HttpResponse:
    actor = request.actor
    contact = contact_get_for(actor, contact_id)
    form = OwnerForm(request.POST, owners=_owner_choices(actor))
    if not form.is_valid():
        messages.error(request, _("Choose a member or the public pool."))
        return _back_to_detail(contact)
    owner = None if form.cleaned_data["owner"] == POOL else member_get(member_id=form.cleaned_data["owner"])
    try:
        contact_owner_change(actor=actor, contacts=[contact], owner=owner)
    except DomainError as exc:
        messages.error(request, domain_error_message(exc))
    else:
        messages.success(
            request,
            _("The owner is now %(owner)s.") % {"owner": owner.display_name if owner else _("Public pool")},
        )
    return _back_to_detail(contact)


@require_POST
@actor_required(Permission.CONTACTS_WRITE)
def identity_add_view(request: ActorRequest[Actor], contact_id: UUID) -> HttpResponse:
    actor = request.actor
    contact = contact_get_for(actor, contact_id)
    form = IdentityForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return _back_to_detail(contact, "#identities")
    try:
        identity_add(actor=actor, contact=contact, **form.cleaned_data)
    except Conflict as exc:
        other_id = exc.fields.get("value", "")
        messages.error(request, exc.message)
        if exc.code == "identity_taken" and other_id and actor.can(Permission.CONTACTS_MERGE):
            return redirect(
                f"{reverse('contacts:merge', kwargs={'contact_id': contact.id})}?other={other_id}"
            )
    except DomainError as exc:
        messages.error(request, domain_error_message(exc))
    else:
        messages.success(request, _("Added the identity."))
    return _back_to_detail(contact, "#identities")


@require_POST
@actor_required(Permission.CONTACTS_WRITE)
def identity_remove_view(request: ActorRequest[Actor], contact_id: UUID, identity_id: UUID) -> HttpResponse:
    contact = contact_get_for(request.actor, contact_id)
    identity_remove(actor=request.actor, contact=contact, identity_id=identity_id)
    messages.success(request, _("Removed the identity."))
    return _back_to_detail(contact, "#identities")


@require_POST
@actor_required(Permission.CONTACTS_WRITE)
def tag_add_view(request: ActorRequest[Actor], contact_id: UUID) -> HttpResponse:
    contact = contact_get_for(request.actor, contact_id)
    form = TagAddForm(request.POST, tags=list(tag_list()))
    if not form.is_valid() or not form.cleaned_data["tag"]:
        messages.error(request, _("Choose a tag to add."))
        return _back_to_detail(contact, "#tags")
    tag = tag_get(tag_id=form.cleaned_data["tag"])
    try:
        contact_tags_add(actor=request.actor, contact=contact, tags=[tag])
    except DomainError as exc:
        messages.error(request, domain_error_message(exc))
    else:
        messages.success(request, _("Added the tag %(tag)s.") % {"tag": tag.name})
    return _back_to_detail(contact, "#tags")


@require_POST
@actor_required(Permission.CONTACTS_WRITE)
def tag_remove_view(request: ActorRequest[Actor], contact_id: UUID, tag_id: UUID) -> HttpResponse:
    contact = contact_get_for(request.actor, contact_id)
    tag = tag_get(tag_id=tag_id)
    contact_tags_remove(actor=request.actor, contact=contact, tags=[tag])
    messages.success(request, _("Removed the tag %(tag)s.") % {"tag": tag.name})
    return _back_to_detail(contact, "#tags")


@require_POST
@actor_required(Permission.CONTACTS_WRITE)
def follow_up_add_view(request: ActorRequest[Actor], contact_id: UUID) -> HttpResponse:
    actor = request.actor
    contact = contact_get_for(actor, contact_id)
    form = FollowUpForm(request.POST)
    if form.is_valid():
        try:
            follow_up_create(actor=actor, contact=contact, **form.cleaned_data)
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            messages.success(request, _("Recorded the follow-up."))
            return _back_to_detail(contact, "#follow-ups")
    context = _detail_context(actor, contact)
    context["follow_up_form"] = form
    return render(request, "contacts/detail.html", context, status=400)


@require_POST
@actor_required(Permission.CONTACTS_WRITE)
def follow_up_done_view(request: ActorRequest[Actor], contact_id: UUID, follow_up_id: UUID) -> HttpResponse:
    contact = contact_get_for(request.actor, contact_id)
    follow_up = follow_up_get(contact=contact, follow_up_id=follow_up_id)
    follow_up_complete(actor=request.actor, follow_up=follow_up)
    messages.success(request, _("Marked the follow-up as done."))
    return _back_to_detail(contact, "#follow-ups")


@require_POST
@actor_required(Permission.CONTACTS_REVEAL_PHONE)
def reveal_phone_view(request: ActorRequest[Actor], contact_id: UUID) -> HttpResponse:
    contact = contact_get_for(request.actor, contact_id)
    phone = contact_phone_reveal(actor=request.actor, contact=contact)
    return render(request, "contacts/partials/phone_revealed.html", {"phone": phone})


@require_http_methods(["GET", "POST"])
@actor_required(Permission.CONTACTS_MERGE)
def contact_merge_view(request: ActorRequest[Actor], contact_id: UUID) -> HttpResponse:
    actor = request.actor
    contact = contact_get_for(actor, contact_id)
    other_id = request.POST.get("other") or request.GET.get("other")
    other = None
    if other_id:
        other = contact_get_for(actor, other_id, follow_merges=False)
        if other.id == contact.id:
            messages.error(request, _("A contact cannot be merged with itself."))
            return redirect("contacts:merge", contact_id=contact.id)
    if request.method == "POST" and other is not None:
        try:
            survivor = contact_merge(actor=actor, survivor=contact, other=other)
        except DomainError as exc:
            messages.error(request, domain_error_message(exc))
        else:
            messages.success(
                request, _("Merged %(other)s into %(survivor)s.") % {"other": other, "survivor": survivor}
            )
            return redirect("contacts:detail", contact_id=survivor.id)
    query = request.GET.get("q", "").strip()
    candidates: list[Contact] = []
    if query and other is None:
        found = contact_list(actor=actor, filters=ContactFilters(q=query)).select_related("owner")
        candidates = [c for c in found[:11] if c.id != contact.id][:10]
    preview = None
    if other is not None:
        labels = {
            **BUILTIN_COLUMNS,
            "gender": _("Gender"),
            "birthday": _("Birthday"),
            "region": _("Region"),
            "notes": _("Notes"),
            "custom": _("Custom fields"),
        }
        raw = contact_merge_preview(survivor=contact, other=other)
        preview = [
            {
                "label": labels.get(name, name),
                "survivor": _merge_display(name, row["survivor"]),
                "other": _merge_display(name, row["other"]),
                "result": _merge_display(name, row["result"]),
                "differs": row["survivor"] != row["other"],
            }
            for name, row in raw.items()
        ]
    context = {
        "contact": contact,
        "other": other,
        "query": query,
        "candidates": candidates,
        "preview": preview,
        "merge_rule": MERGE_RULE,
    }
    return render(request, "contacts/merge.html", context)


def _merge_display(name: str, value: Any) -> str:
    if value in (None, "", {}, []):
        return "—"
    if name == "stage":
        return str(Stage(value).label)
    if name == "phone":
        return mask_phone(str(value))
    if isinstance(value, dict):
        # Translators: how one "field: value" pair and the list separator read in the merge preview.
        pair, separator = _("%(field)s: %(value)s"), _("; ")
        return separator.join(pair % {"field": k, "value": v} for k, v in value.items())
    return str(value)


@require_POST
@actor_required(Permission.CONTACTS_DELETE)
def contact_delete_view(request: ActorRequest[Actor], contact_id: UUID) -> HttpResponse:
    contact = contact_get_for(request.actor, contact_id)
    name = str(contact)
    contact_delete(actor=request.actor, contact=contact)
    messages.success(request, _("Deleted the contact %(name)s.") % {"name": name})
    return redirect("contacts:list")
