"""Forms of the settings pages: they check shape and turn choices into objects; services check the rules."""

from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.tenancy.models import AuditAction, Member, Team
from siyu.tenancy.roles import ApiKeyScope, Role
from siyu.tenancy.selectors import TeamNode

USERNAME_VALIDATOR = RegexValidator(
    r"^[\w.@+-]+\Z", _("Use letters, digits and @ . + - _ only, without spaces.")
)


def _team_choices(nodes: Sequence[TeamNode], *, blank: str) -> list[tuple[str, str]]:
    """Teams indented by depth so the tree reads in a plain <select>."""
    return [("", blank)] + [(str(n.team.id), "— " * n.depth + n.team.name) for n in nodes]


class _TeamChoiceMixin:
    """A `team` choice field over the tree; `cleaned_data["team"]` becomes a Team or None."""

    fields: dict[str, forms.Field]
    teams_by_id: dict[str, Team]

    def _setup_team_field(self, name: str, nodes: Sequence[TeamNode], *, blank: str) -> None:
        self.teams_by_id = {str(n.team.id): n.team for n in nodes}
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101 - declared below as a ChoiceField
        field.choices = _team_choices(nodes, blank=blank)

    def _team_from(self, value: str) -> Team | None:
        return self.teams_by_id.get(value) if value else None


def role_choices(*, may_grant_owner: bool) -> list[tuple[str, str]]:
    return [
        (str(value), str(label)) for value, label in Role.choices if may_grant_owner or value != Role.OWNER
    ]


class MemberCreateForm(_TeamChoiceMixin, forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        validators=[USERNAME_VALIDATOR],
        error_messages={"required": _("Choose the username this person signs in with.")},
        help_text=_("Used to sign in. If the account already exists, it keeps its own password."),
    )
    display_name = forms.CharField(
        label=_("Display name"),
        max_length=100,
        error_messages={"required": _("Enter the name colleagues will see.")},
    )
    email = forms.EmailField(label=_("Email"), required=False)
    role = forms.ChoiceField(label=_("Role"), initial=Role.SALES)
    team = forms.ChoiceField(label=_("Team"), required=False)
    password = forms.CharField(
        label=_("Initial password"),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        strip=False,
        error_messages={"required": _("Set an initial password; the person signs in with it.")},
        help_text=_("At least 8 characters. Give it to the person; they sign in with it."),
    )

    def __init__(self, *args: Any, teams: Sequence[TeamNode], may_grant_owner: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._setup_team_field("team", teams, blank=str(_("No team")))
        role_field = self.fields["role"]
        assert isinstance(role_field, forms.ChoiceField)  # noqa: S101
        role_field.choices = role_choices(may_grant_owner=may_grant_owner)

    def clean_username(self) -> str:
        return str(self.cleaned_data["username"]).strip()

    def clean_team(self) -> Team | None:
        return self._team_from(self.cleaned_data.get("team") or "")

    def clean_password(self) -> str:
        password = str(self.cleaned_data["password"])
        validate_password(password)
        return password


class MemberUpdateForm(_TeamChoiceMixin, forms.Form):
    display_name = forms.CharField(
        label=_("Display name"),
        max_length=100,
        error_messages={"required": _("Enter the name colleagues will see.")},
    )
    role = forms.ChoiceField(label=_("Role"))
    team = forms.ChoiceField(label=_("Team"), required=False)

    def __init__(
        self, *args: Any, member: Member, teams: Sequence[TeamNode], may_grant_owner: bool, **kwargs: Any
    ):
        kwargs.setdefault(
            "initial",
            {"display_name": member.display_name, "role": member.role, "team": str(member.team_id or "")},
        )
        super().__init__(*args, **kwargs)
        self._setup_team_field("team", teams, blank=str(_("No team")))
        role_field = self.fields["role"]
        assert isinstance(role_field, forms.ChoiceField)  # noqa: S101
        # An owner's row keeps "owner" selectable so the form shows the truth; the service decides.
        role_field.choices = role_choices(may_grant_owner=may_grant_owner or member.role == Role.OWNER)

    def clean_team(self) -> Team | None:
        return self._team_from(self.cleaned_data.get("team") or "")


class TeamForm(_TeamChoiceMixin, forms.Form):
    name = forms.CharField(
        label=_("Team name"), max_length=100, error_messages={"required": _("Give the team a name.")}
    )
    parent = forms.ChoiceField(label=_("Parent team"), required=False)

    def __init__(self, *args: Any, teams: Sequence[TeamNode], team: Team | None = None, **kwargs: Any):
        if team is not None:
            kwargs.setdefault("initial", {"name": team.name, "parent": str(team.parent_id or "")})
        super().__init__(*args, **kwargs)
        self._setup_team_field("parent", teams, blank=str(_("None (top level)")))

    def clean_parent(self) -> Team | None:
        return self._team_from(self.cleaned_data.get("parent") or "")


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label=pgettext_lazy("name of a thing", "Name"),
        max_length=100,
        help_text=_("Say what uses the key, e.g. “ERP sync”."),
        error_messages={"required": _("Give the key a name.")},
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=ApiKeyScope.choices,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        initial=[ApiKeyScope.READ],
        error_messages={"required": _("Choose at least one scope.")},
    )


class AuditFilterForm(forms.Form):
    """The audit log's filters, read from the query string; invalid values are reported, not guessed."""

    action = forms.ChoiceField(label=_("Action"), required=False)
    member = forms.ChoiceField(label=pgettext_lazy("workspace member", "Member"), required=False)
    created_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, members: Sequence[Member], **kwargs: Any):
        super().__init__(*args, **kwargs)
        action_field = self.fields["action"]
        member_field = self.fields["member"]
        assert isinstance(action_field, forms.ChoiceField)  # noqa: S101
        assert isinstance(member_field, forms.ChoiceField)  # noqa: S101
        action_field.choices = [("", _("All actions")), *AuditAction.choices]
        member_field.choices = [("", _("Everyone")), *((str(m.id), m.display_name) for m in members)]

    def clean_member(self) -> UUID | None:
        value = self.cleaned_data.get("member") or ""
        return UUID(value) if value else None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start: date | None = cleaned.get("created_from")
        end: date | None = cleaned.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", _("The end date is before the start date."))
        return cleaned
