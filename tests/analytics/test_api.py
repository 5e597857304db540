"""The analytics API: exact figures per route, validation errors, permissions, and another workspace's
ids answered with 404 and its rows never counted."""

from datetime import date
from typing import Any

import pytest

from siyu.tenancy.roles import Permission, Role
from siyu.tenancy.selectors import actor_for_member
from tests.analytics import rows
from tests.analytics.rows import ENTERED, local_day
from tests.api.helpers import ApiClient, error_of, in_english, make_key, other_workspace_client
from tests.conftest import client_for

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def api(admin_actor) -> ApiClient:
    """A read-scope key (read keys carry analytics.read), answering in English."""
    return in_english(ApiClient(make_key(admin_actor, ["read"])))


@pytest.fixture
def other_api(world, other_workspace) -> ApiClient:
    return in_english(other_workspace_client(other_workspace))


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def test_channels(world, api):
    response = api.get("/analytics/channels", {"preset": 180})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"] == {"start": "2026-01-02", "end": "2026-06-30", "days": 180}
    assert [c["name"] for c in body["channels"]] == ["公众号", "门店", "朋友圈广告", "No channel"]
    ad = by_name(body["channels"])["公众号"]
    assert ad["channel_id"] == str(world["ad"].id)
    assert (ad["new_contacts"], ad["customers"], ad["buyers"], ad["repeat_buyers"], ad["orders"]) == (
        3,
        2,
        2,
        1,
        3,
    )
    assert ad["conversion"] == {"count": 2, "base": 3, "percent": 66.7}
    assert ad["retention"] == [
        {"days": 30, "count": 1, "base": 2, "percent": 50.0},
        {"days": 60, "count": 1, "base": 2, "percent": 50.0},
        {"days": 90, "count": 1, "base": 2, "percent": 50.0},
    ]
    assert ad["repurchase"] == {"count": 1, "base": 2, "percent": 50.0}
    assert (ad["revenue"], ad["average_order_value"], ad["ltv"]) == ("450.00", "150.00", "225.00")
    assert ad["spend"] == {
        "amount": "3020.00",
        "source": "mixed",
        "entered": "3000.00",
        "from_unit_cost": "20.00",
        "months_without_spend": [],
    }
    assert (ad["cac"], ad["cost_per_new_contact"], ad["cost_per_order"], ad["roi"]) == (
        "1510.00",
        "1006.67",
        "1006.67",
        "0.15",
    )
    store = by_name(body["channels"])["门店"]
    assert store["spend"]["amount"] is None
    assert store["spend"]["months_without_spend"] == [f"2026-{m:02d}-01" for m in range(1, 7)]
    assert store["retention"][1] == {"days": 60, "count": 0, "base": 0, "percent": None}
    assert ad["cost_base"] == {"new_contacts": 3, "customers": 2, "orders": 3, "revenue": "450.00"}
    assert store["cost_base"] == {"new_contacts": 0, "customers": 0, "orders": 0, "revenue": "0.00"}
    assert body["total"]["new_contacts"] == 5
    assert body["total"]["channel_id"] is None
    # The totals' CAC and ROI: all known spend over the customers of the channels with spend.
    assert body["total"]["cost_base"] == {"new_contacts": 3, "customers": 2, "orders": 3, "revenue": "450.00"}
    assert (body["total"]["cac"], body["total"]["roi"]) == ("10461.61", "0.02")


def test_channels_side_by_side_and_bad_input(world, api):
    body = api.get("/analytics/channels", {"channel": [str(world["store"].id)], "preset": 180}).json()
    assert [c["name"] for c in body["channels"]] == ["门店"]
    response = api.get("/analytics/channels", {"channel": ["nonsense"]})
    assert response.status_code == 422
    assert error_of(response)["fields"] == {"channel": "Not a channel id."}
    response = api.get("/analytics/channels", {"start": "2026-06-30", "end": "2026-01-01"})
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid"
    assert error_of(response)["fields"] == {"start": "Must be on or before the end."}
    response = api.get("/analytics/channels", {"preset": 7})
    assert response.status_code == 422
    assert error_of(response)["fields"] == {"preset": "Unknown period."}
    # Dates past what a day's arithmetic can reach were server errors (OverflowError).
    for report in ("channels", "cohorts", "funnel", "content-outcomes"):
        for query, field in (
            ({"end": "9999-12-31"}, "end"),
            ({"end": "0001-01-01"}, "end"),
            ({"start": "0001-01-01"}, "start"),
        ):
            response = api.get(f"/analytics/{report}", query)
            assert response.status_code == 422, (report, query, response.content)
            assert error_of(response)["fields"] == {field: "Out of range."}


def test_another_workspace_sees_none_of_it(world, other_api):
    body = other_api.get("/analytics/channels", {"preset": 180}).json()
    assert [(c["name"], c["new_contacts"], c["revenue"]) for c in body["channels"]] == [
        ("公众号", 1, "999.00")
    ]


def test_cohorts(world, api):
    query = {"start": "2026-03-01", "end": "2026-03-31", "grain": "month"}
    body = api.get("/analytics/cohorts", query).json()
    assert (body["grain"], body["columns"], body["segment_id"]) == ("month", 4, None)
    assert body["cohorts"] == [
        {
            "start": "2026-03-01",
            "size": 2,
            "cells": [
                {"count": 2, "base": 2, "percent": 100.0},
                {"count": 1, "base": 2, "percent": 50.0},
                {"count": 1, "base": 2, "percent": 50.0},
                {"count": 0, "base": 0, "percent": None},
            ],
        }
    ]
    assert api.get("/analytics/cohorts", {"grain": "day"}).status_code == 422
    response = api.get("/analytics/cohorts", {"segment": str(world["other_segment"].id)})
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_funnel(world, api):
    body = api.get("/analytics/funnel", {"preset": 180}).json()
    total = body["total"]
    assert [s["reached"] for s in total["steps"]] == [5, 3, 3, 3, 3, 1]
    assert total["steps"][1] == {
        "stage": "engaged",
        "reached": 3,
        "from_previous": {"count": 3, "base": 5, "percent": 60.0},
        "from_start": {"count": 3, "base": 5, "percent": 60.0},
        "median_seconds": 86400.0,
    }
    assert [c["name"] for c in body["channels"]] == ["公众号", "门店", "No channel"]


@pytest.fixture
def segments(world):
    first, second = rows.segment("高价值客户"), rows.segment("近期活跃")
    contacts = [rows.contact(created_at=local_day(1)) for _ in range(3)]
    for who in contacts:
        rows.member(first, who, at=local_day(28))
        rows.change(first, who, ENTERED, local_day(28))
    rows.member(second, contacts[0], at=local_day(29))
    rows.member(second, rows.contact(created_at=local_day(1)), at=local_day(29))
    rows.segment_day(first, date(2026, 6, 28), size=3, entered=3)
    return {"first": first, "second": second}


def test_segment_sizes(world, segments, api):
    first = segments["first"]
    body = api.get(
        f"/analytics/segments/{first.id}/sizes", {"start": "2026-06-28", "end": "2026-06-30"}
    ).json()
    assert body == {
        "segment_id": str(first.id),
        "name": "高价值客户",
        "period": {"start": "2026-06-28", "end": "2026-06-30", "days": 3},
        "size_now": 3,
        "days": [
            {"day": "2026-06-28", "size": 3, "entered": 3, "exited": 0},
            {"day": "2026-06-29", "size": 3, "entered": 0, "exited": 0},
            {"day": "2026-06-30", "size": 3, "entered": 0, "exited": 0},
        ],
    }
    response = api.get(f"/analytics/segments/{world['other_segment'].id}/sizes")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_segment_overlap(world, segments, api):
    first, second = segments["first"], segments["second"]
    body = api.get("/analytics/segments/overlap", {"first": str(first.id), "second": str(second.id)}).json()
    assert body == {
        "first_id": str(first.id),
        "second_id": str(second.id),
        "first_size": 3,
        "second_size": 2,
        "both": 1,
        "either": 4,
        "jaccard": {"count": 1, "base": 4, "percent": 25.0},
    }
    response = api.get(
        "/analytics/segments/overlap", {"first": str(first.id), "second": str(world["other_segment"].id)}
    )
    assert response.status_code == 404


def test_content_outcomes(world, api):
    guide = rows.article("秋冬护肤指南")
    reader = rows.contact(created_at=local_day(1))
    rows.viewed(reader, guide, local_day(10))
    rows.purchase(reader, local_day(12), "88.00")
    rows.purchase(reader, local_day(25), "12.00")
    query = {"start": "2026-06-01", "end": "2026-06-30"}
    body = api.get("/analytics/content-outcomes", query).json()
    assert body["window_days"] is None
    assert body["content"] == [
        {
            "content_id": str(guide.id),
            "title": "秋冬护肤指南",
            "kind": "article",
            "viewers": 1,
            "buyers": 1,
            "buyer_rate": {"count": 1, "base": 1, "percent": 100.0},
            "orders": 2,
            "revenue": "100.00",
        }
    ]
    body = api.get("/analytics/content-outcomes", {**query, "window": 7}).json()
    assert (body["content"][0]["orders"], body["content"][0]["revenue"]) == (1, "88.00")
    response = api.get("/analytics/content-outcomes", {**query, "window": 5})
    assert response.status_code == 422
    assert error_of(response)["fields"] == {"window": "Not an allowed window."}


def test_routes_need_the_analytics_permission(world, rep):
    rep_client = client_for(rep)
    segment = rows.segment("人群")
    paths = [
        "/api/v1/analytics/channels",
        "/api/v1/analytics/cohorts",
        "/api/v1/analytics/funnel",
        f"/api/v1/analytics/segments/{segment.id}/sizes",
        f"/api/v1/analytics/segments/overlap?first={segment.id}&second={segment.id}",
        "/api/v1/analytics/content-outcomes",
    ]
    for path in paths:
        response = rep_client.get(path)
        assert response.status_code == 403, path
        assert error_of(response)["code"] == "permission_denied"
    # Asking about another workspace's segment without the permission answers 403 too, revealing nothing.
    assert rep_client.get(f"/api/v1/analytics/segments/{world['other_segment'].id}/sizes").status_code == 403
    assert rep_client.get(f"/api/v1/analytics/cohorts?segment={world['other_segment'].id}").status_code == 403
    assert ApiClient().get("/analytics/channels").status_code == 401


def test_a_marketers_session_may_read(world, make_member):
    marketer = make_member(Role.MARKETING)
    assert actor_for_member(member=marketer).can(Permission.ANALYTICS_READ)
    response = client_for(marketer).get("/api/v1/analytics/funnel", {"preset": 30})
    assert response.status_code == 200
    assert response.json()["period"]["days"] == 30
