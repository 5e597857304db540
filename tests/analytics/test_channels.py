"""Channel quality: exact figures on hand-built contacts, events, orders and spend (conftest.world)."""

from datetime import date
from decimal import Decimal

from siyu.analytics.periods import period_last
from siyu.analytics.selectors import ChannelChoice, channel_quality
from siyu.contacts.models import Stage
from tests.analytics import rows
from tests.analytics.rows import NOW, days_ago

PERIOD = period_last(180, on=date(2026, 6, 30))  # 2 January – 30 June 2026


def test_channel_quality_figures(world, admin_actor):
    report = channel_quality(actor=admin_actor, period=PERIOD, as_of=NOW)
    by_name = {row.name: row for row in report.rows}
    assert [row.name for row in report.rows] == ["公众号", "门店", "朋友圈广告", "无渠道"]

    ad = by_name["公众号"]
    assert (ad.new_contacts, ad.customers, ad.buyers, ad.repeat_buyers, ad.orders) == (3, 2, 2, 1, 3)
    assert ad.revenue == Decimal("450.00")
    assert ad.conversion.percent == 66.7
    assert ad.repurchase.percent == 50.0
    assert {d: (r.count, r.base) for d, r in ad.retention.items()} == {30: (1, 2), 60: (1, 2), 90: (1, 2)}
    assert ad.aov == Decimal("150.00")
    assert ad.ltv == Decimal("225.00")
    # June entered (3000, the whole month in the period); March derived: 2 new contacts × ¥10.
    assert (ad.spend.amount, ad.spend.source, ad.spend.entered_months, ad.spend.derived_months) == (
        Decimal("3020.00"),
        "mixed",
        1,
        5,
    )
    assert ad.cac == Decimal("1510.00")
    assert ad.cost_per_contact == Decimal("1006.67")
    assert ad.cost_per_order == Decimal("1006.67")
    assert ad.roi == Decimal("0.15")

    moments = by_name["朋友圈广告"]
    assert moments.new_contacts == 0
    # ¥3000 a month: 30 of January's 31 days, then February to June whole.
    assert moments.spend.amount == Decimal("17903.23")
    assert moments.spend.source == "unit_cost"
    assert moments.cac is None
    assert moments.roi is None

    store = by_name["门店"]
    assert (store.new_contacts, store.customers) == (1, 1)
    assert {d: (r.count, r.base) for d, r in store.retention.items()} == {30: (0, 1), 60: (0, 0), 90: (0, 0)}
    assert store.retention[60].percent is None
    assert store.spend.amount is None
    assert store.spend.source == "none"
    assert len(store.spend.missing_months) == 6
    assert store.cac is None

    none = by_name["无渠道"]
    assert (none.channel_id, none.new_contacts, none.customers) == (None, 1, 0)

    total = report.total
    assert (total.new_contacts, total.customers, total.buyers, total.orders) == (5, 3, 2, 3)
    assert total.revenue == Decimal("450.00")
    assert {d: (r.count, r.base) for d, r in total.retention.items()} == {30: (1, 3), 60: (1, 2), 90: (1, 2)}
    assert total.spend.amount == Decimal("20923.23")
    assert not total.spend.is_complete


def test_side_by_side_choice_keeps_the_chosen_channels(world, admin_actor):
    choice = ChannelChoice(channel_ids=(world["ad"].id, world["store"].id), include_no_channel=False)
    report = channel_quality(actor=admin_actor, period=PERIOD, choice=choice, as_of=NOW)
    assert [(row.name, row.new_contacts) for row in report.rows] == [("公众号", 3), ("门店", 1)]
    assert report.total.new_contacts == 4


def test_a_customer_moved_back_by_hand_still_counts_as_converted(workspace, admin_actor):
    channel = rows.channel("门店")
    rows.contact(
        created_at=days_ago(50),
        channel=channel,
        history=[(Stage.CUSTOMER, days_ago(40)), (Stage.FRIEND, days_ago(30))],
    )
    rows.contact(created_at=days_ago(50), channel=channel, history=[(Stage.FRIEND, days_ago(40))])
    rows.contact(created_at=days_ago(50), channel=channel, stage=Stage.MEMBER)  # no history beyond creation
    report = channel_quality(actor=admin_actor, period=PERIOD, as_of=NOW)
    assert [(row.name, row.new_contacts, row.customers) for row in report.rows] == [("门店", 3, 2)]
