"""The demo's order history: each customer's orders come after it was acquired."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from siyu.contacts.models import Contact, Stage
from siyu.core.time import now
from siyu.web.demo_tracking import HISTORY_DAYS, _history_rows
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_the_demo_history_starts_after_each_customer_was_acquired(workspace):
    moment = now()
    ages = {f"+86138000010{n:02d}": days for n, days in enumerate((3, 20, 45, 90, 200, 390))}
    for phone, days in ages.items():
        contact = ContactFactory(phone=phone, stage=Stage.CUSTOMER)
        Contact.objects.filter(id=contact.id).update(created_at=moment - timedelta(days=days))

    rows = _history_rows(rng=random.Random(7), tracked=[])

    first_order: dict[str, str] = {}
    for _order_no, phone, _name, when, *_rest in rows:
        if f"+86{phone}" in ages:  # not the export's row with a cut-off phone
            first_order.setdefault(f"+86{phone}", when)
    # Customers acquired in the past 30 days have no history; the others' starts after acquisition.
    assert set(first_order) == {phone for phone, days in ages.items() if days > 30}
    for phone, when in first_order.items():
        acquired = timezone.localtime(moment - timedelta(days=ages[phone])).replace(second=0, microsecond=0)
        assert acquired.strftime("%Y-%m-%d %H:%M") <= when
        assert (moment - timedelta(days=HISTORY_DAYS + 1)).strftime("%Y-%m-%d %H:%M") < when
