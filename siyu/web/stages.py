"""Lifecycle stages as the UI shows them: one order, one name and one colour everywhere."""

from dataclasses import dataclass

from siyu.contacts.models import Stage

# Keep in step with the .stage-* classes in siyu/web/static/web/siyu.css.
STAGE_COLORS: dict[str, str] = {
    Stage.VISITOR: "#94a3b8",
    Stage.ENGAGED: "#60a5fa",
    Stage.FOLLOWER: "#22d3ee",
    Stage.FRIEND: "#34d399",
    Stage.CUSTOMER: "#f59e0b",
    Stage.MEMBER: "#e11d48",
}


@dataclass(frozen=True)
class StageRow:
    value: str
    label: str
    color: str
    count: int


def stage_rows(counts: dict[str, int]) -> list[StageRow]:
    """Every stage in funnel order with its count (zero included), for charts and tables."""
    return [
        StageRow(
            value=stage.value, label=str(stage.label), color=STAGE_COLORS[stage], count=counts.get(stage, 0)
        )
        for stage in Stage
    ]
