"""What a workspace has that rules may name, for validation and for the builder's pickers."""

from uuid import UUID

from django.utils.translation import gettext as _

from siyu.contacts.models import Gender, IdentityType, Stage
from siyu.contacts.selectors import channel_list, custom_field_list, tag_list
from siyu.segments.models import Segment
from siyu.segments.rules.spec import Catalog, FieldSpec, FieldType
from siyu.tenancy.selectors import member_list, team_list

CUSTOM_TYPES: dict[str, FieldType] = {
    "text": "text",
    "number": "number",
    "date": "date",
    "select": "choice",
    "multi_select": "multi",
    "boolean": "boolean",
}


def builtin_fields() -> list[FieldSpec]:
    return [
        FieldSpec("name", _("Name"), "text"),
        FieldSpec("phone", _("Phone"), "text"),
        FieldSpec("email", _("Email"), "text"),
        FieldSpec("gender", _("Gender"), "choice", tuple(str(value) for value in Gender.values)),
        FieldSpec("birthday", _("Birthday"), "date"),
        FieldSpec("region", _("Region"), "text"),
        FieldSpec("city", _("City"), "text"),
        FieldSpec("company", _("Company"), "text"),
        FieldSpec("created_at", _("Created"), "datetime"),
        FieldSpec("last_seen_at", _("Last seen"), "datetime"),
    ]


def segment_references() -> dict[UUID, frozenset[UUID]]:
    references: dict[UUID, frozenset[UUID]] = {}
    for segment_id, dependencies in Segment.objects.values_list("id", "dependencies"):
        references[segment_id] = frozenset(
            UUID(key.removeprefix("segment:")) for key in dependencies or () if key.startswith("segment:")
        )
    return references


def team_subtrees() -> dict[UUID, frozenset[UUID]]:
    children: dict[UUID | None, list[UUID]] = {}
    teams = list(team_list().values_list("id", "parent_id"))
    for team_id, parent_id in teams:
        children.setdefault(parent_id, []).append(team_id)
    subtrees: dict[UUID, frozenset[UUID]] = {}
    for team_id, _parent in teams:
        found: set[UUID] = set()
        pending = [team_id]
        while pending:
            current = pending.pop()
            if current not in found:
                found.add(current)
                pending.extend(children.get(current, ()))
        subtrees[team_id] = frozenset(found)
    return subtrees


def catalog_load(*, lenient: bool = False) -> Catalog:
    """The workspace's catalog. A lenient one (for evaluating stored rules) skips the id sets."""
    fields = {spec.name: spec for spec in builtin_fields()}
    for custom in custom_field_list():
        kind = CUSTOM_TYPES.get(custom.type, "text")
        options = tuple(str(option) for option in custom.options or ()) if kind in ("choice", "multi") else ()
        fields[f"custom.{custom.key}"] = FieldSpec(f"custom.{custom.key}", custom.label, kind, options)
    subtrees = team_subtrees()
    if lenient:
        return Catalog(
            fields=fields,
            tag_ids=frozenset(),
            channel_ids=frozenset(),
            member_ids=frozenset(),
            team_subtrees=subtrees,
            segment_ids=frozenset(),
            segment_references={},
            stages=tuple(str(stage) for stage in Stage),
            identity_types=tuple(str(kind) for kind in IdentityType.values),
            is_lenient=True,
        )
    references = segment_references()
    return Catalog(
        fields=fields,
        tag_ids=frozenset(tag_list().values_list("id", flat=True)),
        channel_ids=frozenset(channel_list().values_list("id", flat=True)),
        member_ids=frozenset(member_list(active_only=False).values_list("id", flat=True)),
        team_subtrees=subtrees,
        segment_ids=frozenset(references),
        segment_references=references,
        stages=tuple(str(stage) for stage in Stage),
        identity_types=tuple(str(kind) for kind in IdentityType.values),
    )
