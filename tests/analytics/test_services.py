"""Spend entry: who may enter it, what is accepted, and that it stays inside the workspace."""

from datetime import date
from decimal import Decimal

import pytest

from siyu.analytics.models import ChannelSpend
from siyu.analytics.periods import Period, period_last, period_parse
from siyu.analytics.selectors import channel_quality, spend_overview
from siyu.analytics.services import channel_spend_delete, channel_spend_set
from siyu.contacts.models import CostUnit
from siyu.core.errors import NotFound, PermissionDenied, ValidationError
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.selectors import actor_for_member
from tests.analytics import rows
from tests.analytics.rows import NOW, days_ago


def test_spend_is_stored_per_channel_and_month(workspace, admin_actor):
    channel = rows.channel("公众号")
    entry = channel_spend_set(
        actor=admin_actor, channel=channel, month=date(2026, 5, 17), amount="1,234.567", note=""
    )
    assert (entry.month, entry.amount, entry.updated_by) == (
        date(2026, 5, 1),
        Decimal("1234.57"),
        admin_actor.member,
    )
    again = channel_spend_set(
        actor=admin_actor, channel=channel, month=date(2026, 5, 1), amount=Decimal("10")
    )
    assert again.id == entry.id
    assert ChannelSpend.objects.get().amount == Decimal("10.00")
    channel_spend_delete(actor=admin_actor, spend=again)
    assert not ChannelSpend.objects.exists()


@pytest.mark.parametrize(
    ("month", "amount", "note", "field"),
    [
        (date(2026, 5, 1), "-1", "", "amount"),
        (date(2026, 5, 1), "abc", "", "amount"),
        (date(2026, 5, 1), "NaN", "", "amount"),
        (date(2026, 5, 1), "1000000000000", "", "amount"),
        (date(1999, 12, 1), "1", "", "month"),
        (date(2026, 5, 1), "1", "字" * 201, "note"),
    ],
)
def test_bad_spend_is_refused(workspace, admin_actor, month, amount, note, field):
    with pytest.raises(ValidationError) as refused:
        channel_spend_set(
            actor=admin_actor, channel=rows.channel("门店"), month=month, amount=amount, note=note
        )
    assert list(refused.value.fields) == [field]
    assert not ChannelSpend.objects.exists()


def test_spend_needs_the_channel_managers_permission(workspace, make_member, rep_actor):
    channel = rows.channel("门店")
    manager = actor_for_member(member=make_member("manager"))
    marketer = actor_for_member(member=make_member("marketing"))
    for refused in (rep_actor, manager):
        with pytest.raises(PermissionDenied):
            channel_spend_set(actor=refused, channel=channel, month=date(2026, 5, 1), amount="1")
    entry = channel_spend_set(actor=marketer, channel=channel, month=date(2026, 5, 1), amount="1")
    with pytest.raises(PermissionDenied):
        channel_spend_delete(actor=manager, spend=entry)


def test_another_workspaces_channel_is_not_found(workspace, other_workspace, admin_actor):
    with workspace_scope(other_workspace.id):
        foreign = rows.channel("别家渠道")
    with pytest.raises(NotFound):
        channel_spend_set(actor=admin_actor, channel=foreign, month=date(2026, 5, 1), amount="1")
    # Neither in that workspace nor in ours: saving stamps the row's own workspace, not its channel's.
    assert not ChannelSpend.all_workspaces.exists()


def test_per_click_channels_and_inactive_channels(workspace, admin_actor):
    clicks = rows.channel("搜索广告", cost_unit=CostUnit.CLICK, unit_cost=Decimal("2"))
    rows.contact(created_at=days_ago(3), channel=clicks)
    retired = rows.channel("旧渠道", is_active=False)
    rows.channel("停用但有花费", is_active=False)
    period = period_last(30, on=date(2026, 6, 30))
    report = channel_quality(actor=admin_actor, period=period, as_of=NOW)
    # Clicks are not counted, so a per-click channel has no spend without an entry; inactive channels
    # with nothing in the period are left out, and so is the row of contacts without a channel.
    assert [(row.name, row.spend.amount, row.spend.missing_months) for row in report.rows] == [
        ("搜索广告", None, [date(2026, 6, 1)]),
    ]
    ChannelSpend.objects.create(channel=retired, month=date(2026, 6, 1), amount=Decimal("600"))
    report = channel_quality(actor=admin_actor, period=period, as_of=NOW)
    assert [(row.name, row.spend.amount, row.spend.source) for row in report.rows] == [
        ("搜索广告", None, "none"),
        ("旧渠道", Decimal("600.00"), "entered"),
    ]


def test_spend_overview_of_the_last_months(workspace, admin_actor):
    monthly = rows.channel("朋友圈广告", cost_unit=CostUnit.MONTH, unit_cost=Decimal("3100"))
    per_contact = rows.channel("公众号", cost_unit=CostUnit.CONTACT, unit_cost=Decimal("5"))
    rows.contact(created_at=days_ago(5), channel=per_contact)
    rows.contact(created_at=days_ago(6), channel=per_contact)
    ChannelSpend.objects.create(channel=monthly, month=date(2026, 5, 1), amount=Decimal("999"))
    channels, months = spend_overview(actor=admin_actor, months=[date(2026, 6, 1), date(2026, 5, 1)])
    assert [c.name for c in channels] == ["公众号", "朋友圈广告"]
    assert [(m.month, [(c.amount, c.entry is not None) for c in m.cells], m.total) for m in months] == [
        (date(2026, 6, 1), [(Decimal("10.00"), False), (Decimal("3100.00"), False)], Decimal("3110.00")),
        (date(2026, 5, 1), [(Decimal("0.00"), False), (Decimal("999.00"), True)], Decimal("999.00")),
    ]


def test_periods(frozen):
    period = period_parse(start="2026-01-31", end="2026-03-01")
    assert (period.days, period.months()) == (30, [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)])
    assert [period.days_in_month(m) for m in period.months()] == [1, 28, 1]
    assert period_parse(preset="90") == Period(start=date(2026, 4, 2), end=date(2026, 6, 30), preset=90)
    assert period_parse() == Period(start=date(2026, 1, 2), end=date(2026, 6, 30), preset=180)
    assert period_parse(start="2026-06-01") == Period(start=date(2026, 6, 1), end=date(2026, 6, 30))
    assert str(period_parse(preset="30").since) == "2026-06-01 00:00:00+08:00"
    with pytest.raises(ValidationError):
        period_parse(start="2020-01-01", end="2026-01-01")
    with pytest.raises(ValidationError):
        period_parse(start="31/01/2026")
