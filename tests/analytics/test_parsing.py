"""Reading the report filters and months from request values: one reading for the pages and the API."""

from collections.abc import Iterator
from datetime import date
from uuid import UUID

import pytest
from django.utils import translation

from siyu.analytics.filters import channel_choice_parse, window_parse
from siyu.analytics.periods import month_parse, months_back
from siyu.analytics.selectors import ChannelChoice
from siyu.core.errors import ValidationError

CHANNEL = "0190f5a2-7c1e-7000-8000-000000000001"


@pytest.fixture(autouse=True)
def in_english() -> Iterator[None]:
    with translation.override("en"):
        yield


def test_channels_are_ids_and_none():
    assert channel_choice_parse([]) == ChannelChoice()
    assert channel_choice_parse(["", ""]) == ChannelChoice()
    assert channel_choice_parse([CHANNEL]) == ChannelChoice(
        channel_ids=(UUID(CHANNEL),), include_no_channel=False
    )
    assert channel_choice_parse(["none", "", CHANNEL.upper()]) == ChannelChoice(
        channel_ids=(UUID(CHANNEL),), include_no_channel=True
    )
    assert channel_choice_parse(["none"]) == ChannelChoice(channel_ids=(), include_no_channel=True)


def test_a_channel_that_is_not_an_id_is_refused():
    with pytest.raises(ValidationError) as raised:
        channel_choice_parse([CHANNEL, "公众号"])
    assert raised.value.fields == {"channel": "Not a channel id."}


@pytest.mark.parametrize(("value", "days"), [(None, None), ("", None), ("7", 7), (30, 30), ("90", 90)])
def test_windows_on_offer(value, days):
    assert window_parse(value) == days


@pytest.mark.parametrize("value", ["5", 5, "-7", "seven", " 7", 0])
def test_other_windows_are_refused(value):
    with pytest.raises(ValidationError) as raised:
        window_parse(value)
    assert raised.value.fields == {"window": "Not an allowed window."}


def test_months_back_newest_first_across_a_year():
    assert months_back(3, on=date(2026, 2, 14)) == [date(2026, 2, 1), date(2026, 1, 1), date(2025, 12, 1)]
    assert months_back(1, on=date(2026, 12, 31)) == [date(2026, 12, 1)]
    twelve = months_back(12, on=date(2026, 6, 30))
    assert (len(twelve), twelve[0], twelve[-1]) == (12, date(2026, 6, 1), date(2025, 7, 1))


@pytest.mark.parametrize(
    ("text", "month"),
    [("2026-05", date(2026, 5, 1)), (" 2026-5 ", date(2026, 5, 1)), ("2026-05-17", date(2026, 5, 1))],
)
def test_a_month_is_read_as_its_first_day(text, month):
    assert month_parse(text) == month


@pytest.mark.parametrize("text", ["", "May", "2026", "2026-13", "0-01", "2026-xx"])
def test_what_is_not_a_month_is_none(text):
    assert month_parse(text) is None
