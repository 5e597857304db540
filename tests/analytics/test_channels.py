"""Channel quality: exact figures on hand-built contacts, events, orders and spend (conftest.world)."""

from datetime import date
from decimal import Decimal

from siyu.analytics.models import ChannelSpend
from siyu.analytics.periods import Period, period_last
from siyu.analytics.selectors import ChannelChoice, CostBase, channel_quality
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


def test_totals_set_spend_against_the_customers_it_paid_for(world, admin_actor):
    """The headline CAC and ROI leave out contacts without a channel and channels without spend."""
    total = channel_quality(actor=admin_actor, period=PERIOD, as_of=NOW).total
    # Costed: the ad channel (spend for every month) and Moments (no contacts); not the store
    # (no spend, 1 customer) nor the contact without a channel.
    assert total.costed == CostBase(new_contacts=3, customers=2, orders=3, revenue=Decimal("450.00"))
    assert total.is_partly_costed
    # ¥3,020 + ¥17,903.2258… (Moments' spend counts although it brought nobody) over 2 customers.
    assert total.cac == Decimal("10461.61")
    assert total.cost_per_contact == Decimal("6974.41")
    assert total.roi == Decimal("0.02")  # 450 / 20,923.23


def test_roi_is_revenue_over_spend_unrounded(workspace, admin_actor):
    channel = rows.channel("直播")
    for amount in ("5000.00", "3000.00", "2000.00"):
        who = rows.contact(
            created_at=rows.local_day(2), channel=channel, history=[(Stage.CUSTOMER, rows.local_day(3))]
        )
        rows.purchase(who, rows.local_day(4), amount)
    spend = ChannelSpend.objects.create(channel=channel, month=date(2026, 6, 1), amount=Decimal("20"))
    june = Period(start=date(2026, 6, 1), end=date(2026, 6, 30))
    row = channel_quality(actor=admin_actor, period=june, as_of=NOW).rows[0]
    # LTV 3,333.33 and CAC 6.67 once rounded would give 499.75.
    assert (row.ltv, row.cac, row.roi) == (Decimal("3333.33"), Decimal("6.67"), Decimal("500.00"))
    spend.amount = Decimal("0.01")
    spend.save()
    row = channel_quality(actor=admin_actor, period=june, as_of=NOW).rows[0]
    # A CAC that rounds to ¥0.00 still gives an ROI.
    assert (row.cac, row.roi) == (Decimal("0.00"), Decimal("1000000.00"))


def test_a_channel_with_months_without_spend_is_costed_on_the_months_with_spend(workspace, admin_actor):
    channel = rows.channel("地推")  # no unit cost: only the spend entered counts
    may_buyer = rows.contact(
        created_at=rows.local_day(10, month=5),
        channel=channel,
        history=[(Stage.CUSTOMER, rows.local_day(11))],
    )
    rows.purchase(may_buyer, rows.local_day(12), "200.00")
    rows.contact(  # moved back by hand: still a May customer
        created_at=rows.local_day(20, month=5),
        channel=channel,
        history=[(Stage.CUSTOMER, rows.local_day(21, month=5)), (Stage.FRIEND, rows.local_day(1))],
    )
    june_buyer = rows.contact(
        created_at=rows.local_day(5), channel=channel, history=[(Stage.CUSTOMER, rows.local_day(6))]
    )
    rows.purchase(june_buyer, rows.local_day(7), "500.00")
    rows.contact(created_at=rows.local_day(8), channel=channel)
    ChannelSpend.objects.create(channel=channel, month=date(2026, 5, 1), amount=Decimal("300"))
    period = Period(start=date(2026, 5, 1), end=date(2026, 6, 30))
    report = channel_quality(actor=admin_actor, period=period, as_of=NOW)
    row = report.rows[0]
    assert (row.new_contacts, row.customers, row.orders, row.revenue) == (4, 3, 2, Decimal("700.00"))
    assert (row.spend.amount, row.spend.missing_months) == (Decimal("300.00"), [date(2026, 6, 1)])
    # May's spend is set against May's contacts only, not June's.
    assert row.costed == CostBase(new_contacts=2, customers=2, orders=1, revenue=Decimal("200.00"))
    assert row.is_partly_costed
    assert (row.cac, row.cost_per_contact, row.cost_per_order, row.roi) == (
        Decimal("150.00"),
        Decimal("150.00"),
        Decimal("300.00"),
        Decimal("0.67"),
    )
    assert (report.total.cac, report.total.roi) == (Decimal("150.00"), Decimal("0.67"))

    ChannelSpend.objects.create(channel=channel, month=date(2026, 6, 1), amount=Decimal("600"))
    row = channel_quality(actor=admin_actor, period=period, as_of=NOW).rows[0]
    assert not row.is_partly_costed
    assert (row.cac, row.roi) == (Decimal("300.00"), Decimal("0.78"))
