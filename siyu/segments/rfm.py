"""RFM scoring: each customer (one order or more) scores 1–5 on recency, frequency and monetary value
against the workspace's cut points, and falls into one of the eight classic groups by whether each
score is high (3 or more) or low."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

HIGH_SCORE = 3
GROUP_LABELS = {
    "important_value": _("Important value"),
    "important_develop": _("Important to develop"),
    "important_keep": _("Important to keep"),
    "important_retain": _("Important to win back"),
    "general_value": _("General value"),
    "general_develop": _("General to develop"),
    "general_keep": _("General to keep"),
    "general_retain": _("General to win back"),
}
# (recency high, frequency high, monetary high) → group
GROUP_OF = {
    (True, True, True): "important_value",
    (True, False, True): "important_develop",
    (False, True, True): "important_keep",
    (False, False, True): "important_retain",
    (True, True, False): "general_value",
    (True, False, False): "general_develop",
    (False, True, False): "general_keep",
    (False, False, False): "general_retain",
}
PARTS_OF = {group: parts for parts, group in GROUP_OF.items()}


@dataclass(frozen=True)
class RfmCuts:
    """Four ascending cut points per dimension. Recency (days since the last order): at most cut 1
    scores 5, at most cut 2 scores 4 … above cut 4 scores 1. Frequency and monetary: at least cut 4
    scores 5 … below cut 1 scores 1."""

    recency: tuple[int, int, int, int]
    frequency: tuple[int, int, int, int]
    monetary: tuple[Decimal, Decimal, Decimal, Decimal]

    @property
    def recency_high_max_days(self) -> int:
        return self.recency[HIGH_SCORE - 1]  # score ≥ 3 ⇔ recency ≤ cut 3

    @property
    def frequency_high_min(self) -> int:
        return self.frequency[HIGH_SCORE - 2]  # score ≥ 3 ⇔ frequency ≥ cut 2

    @property
    def monetary_high_min(self) -> Decimal:
        return self.monetary[HIGH_SCORE - 2]


@dataclass(frozen=True)
class RfmScore:
    recency_days: int
    frequency: int
    monetary: Decimal
    r: int
    f: int
    m: int
    group: str

    @property
    def group_label(self) -> str:
        return str(GROUP_LABELS[self.group])


def recency_days(*, last_order_at: datetime, now: datetime) -> int:
    return max(0, (now - last_order_at) // timedelta(days=1))


def rfm_score(
    *, last_order_at: datetime | None, orders: int, revenue: Decimal, cuts: RfmCuts, now: datetime
) -> RfmScore | None:
    if orders < 1 or last_order_at is None:
        return None
    days = recency_days(last_order_at=last_order_at, now=now)
    r = 5 - sum(1 for cut in cuts.recency if days > cut)
    f = 1 + sum(1 for cut in cuts.frequency if orders >= cut)
    m = 1 + sum(1 for cut in cuts.monetary if revenue >= cut)
    group = GROUP_OF[(r >= HIGH_SCORE, f >= HIGH_SCORE, m >= HIGH_SCORE)]
    return RfmScore(recency_days=days, frequency=orders, monetary=revenue, r=r, f=f, m=m, group=group)
