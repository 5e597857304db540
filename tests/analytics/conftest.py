"""Shared analytics fixtures: a frozen clock and a small workspace of channels, contacts, events,
orders and spend (plus another workspace's rows that must never be counted)."""

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from siyu.analytics.models import ChannelSpend
from siyu.contacts.models import CostUnit, Stage
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.models import Member
from siyu.tenancy.roles import Role
from tests.analytics import rows
from tests.analytics.rows import NOW, days_ago
from tests.conftest import client_for
from tests.tracking.events import make_source

TODAY = date(2026, 6, 30)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports and periods see 30 June 2026, noon in Shanghai, as now."""
    monkeypatch.setattr("siyu.analytics.selectors.now", lambda: NOW)
    monkeypatch.setattr("siyu.analytics.periods.today", lambda: TODAY)
    monkeypatch.setattr("siyu.analytics.views.today", lambda: TODAY)


@pytest.fixture
def world(workspace, other_workspace) -> dict[str, Any]:
    """Three channels and six contacts (five in the 180 days to 30 June 2026), see test_channels.py."""
    site = make_source()
    ad = rows.channel("公众号", cost_unit=CostUnit.CONTACT, unit_cost=Decimal("10"))
    moments = rows.channel("朋友圈广告", cost_unit=CostUnit.MONTH, unit_cost=Decimal("3000"))
    store = rows.channel("门店")
    a1 = rows.contact(created_at=days_ago(100), channel=ad, history=[(Stage.CUSTOMER, days_ago(95))])
    rows.event(a1, days_ago(90), via=site)  # day 10: the 30-day window
    rows.event(a1, days_ago(55), via=site)  # day 45: the 60-day window
    rows.purchase(a1, days_ago(95), "100.00")
    rows.purchase(a1, days_ago(50), "300.00")
    a2 = rows.contact(created_at=days_ago(95), channel=ad)
    rows.event(a2, days_ago(94.5), via=site)  # day 0: the acquisition day counts for no window
    rows.event(a2, days_ago(25), via=site)  # day 70: the 90-day window
    a3 = rows.contact(created_at=days_ago(20), channel=ad, history=[(Stage.CUSTOMER, days_ago(19))])
    rows.event(a3, days_ago(10), via=site)  # too recent for any window
    rows.purchase(a3, days_ago(19), "50.00")
    b1 = rows.contact(created_at=days_ago(40), channel=store, history=[(Stage.MEMBER, days_ago(39))])
    rows.event(b1, days_ago(9), via=site)  # day 31: the 60-day window, which has not passed for b1
    rows.contact(created_at=days_ago(200), channel=None)  # before the period
    rows.contact(created_at=days_ago(10), channel=None)
    june = ChannelSpend.objects.create(channel=ad, month=date(2026, 6, 1), amount=Decimal("3000"))
    with workspace_scope(other_workspace.id):  # never counted
        other_channel = rows.channel("公众号")
        stranger = rows.contact(created_at=days_ago(100), channel=other_channel, stage=Stage.CUSTOMER)
        rows.event(stranger, days_ago(90), via=make_source())
        rows.purchase(stranger, days_ago(90), "999.00")
        other_spend = ChannelSpend.objects.create(
            channel=other_channel, month=date(2026, 6, 1), amount=Decimal("777")
        )
        other_segment = rows.segment("别家人群")
    return {
        "ad": ad,
        "moments": moments,
        "store": store,
        "june": june,
        "other_channel": other_channel,
        "other_spend": other_spend,
        "other_segment": other_segment,
    }


@pytest.fixture
def admin_client(admin: Member) -> Client:
    return client_for(admin)


@pytest.fixture
def manager(make_member: Callable[..., Member]) -> Member:
    return make_member(Role.MANAGER, display_name="周经理")
