"""The workspace's RFM cut points and a contact's scores."""

from decimal import Decimal
from uuid import UUID

from siyu.core.time import now as clock_now
from siyu.segments.models import RfmSettings
from siyu.segments.rfm import RfmCuts, RfmScore, rfm_score
from siyu.tracking.selectors.events import activity_rows


def rfm_settings() -> RfmSettings | None:
    return RfmSettings.objects.first()


def cuts_of(settings: RfmSettings | None) -> RfmCuts | None:
    if settings is None or not (settings.recency_cuts and settings.frequency_cuts and settings.monetary_cuts):
        return None
    return RfmCuts(
        recency=tuple(int(value) for value in settings.recency_cuts),  # type: ignore[arg-type]
        frequency=tuple(int(value) for value in settings.frequency_cuts),  # type: ignore[arg-type]
        monetary=tuple(Decimal(str(value)) for value in settings.monetary_cuts),  # type: ignore[arg-type]
    )


def rfm_cuts() -> RfmCuts | None:
    return cuts_of(rfm_settings())


def rfm_for_contact(*, contact_id: UUID) -> RfmScore | None:
    cuts = rfm_cuts()
    row = activity_rows().filter(contact_id=contact_id).values("orders", "revenue", "last_order_at").first()
    if cuts is None or row is None:
        return None
    return rfm_score(
        last_order_at=row["last_order_at"],
        orders=row["orders"],
        revenue=Decimal(row["revenue"]),
        cuts=cuts,
        now=clock_now(),
    )
