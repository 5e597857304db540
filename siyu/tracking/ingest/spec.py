"""Segment-spec messages: checking one and turning it into the normalised form Siyu stores.

Pure functions, no database: the gateway and server-side callers share them. A message that cannot be
kept raises `Rejected` with a warning code and a sentence; the caller records it and goes on.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from siyu.contacts.services.values import ILLEGAL_IDENTITY_VALUES
from siyu.core.ids import uuid7
from siyu.tracking.models import EventType, WarningCode

MAX_EVENT_BYTES = 32 * 1024
MAX_REQUEST_BYTES = 500 * 1024
MAX_ID_LENGTH = 100
MAX_USER_ID_LENGTH = 200
MAX_NAME_LENGTH = 200
# How far from the server's clock a (skew-corrected) event time may be before it is absurd.
OLDEST_ALLOWED = timedelta(days=5 * 366)
NEWEST_ALLOWED = timedelta(days=1)

TYPES = frozenset(EventType.values)
# The field that names a message, per type; Segment calls it differently for each.
NAME_FIELD = {"track": "event", "page": "name", "screen": "name", "group": "groupId", "alias": "previousId"}
# The object that carries a message's attributes, per type.
PAYLOAD_FIELD = {"identify": "traits", "group": "traits"}


class Rejected(Exception):
    def __init__(self, code: WarningCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Received:
    """What the server knows about a request, stamped on each of its messages."""

    at: datetime
    ip: str = ""
    user_agent: str = ""


def _clean_id(raw: Any, *, field: str, limit: int) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise Rejected(WarningCode.ILLEGAL_ID, f"{field} must be a string or a number")
    value = str(raw).strip()
    if not value:
        return ""
    if value.lower() in ILLEGAL_IDENTITY_VALUES or value.startswith("[object "):
        raise Rejected(WarningCode.ILLEGAL_ID, f"{field} “{value[:40]}” is not a real id")
    if len(value) > limit:
        raise Rejected(WarningCode.ILLEGAL_ID, f"{field} is longer than {limit} characters")
    return value


def parse_time(raw: Any, *, field: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise Rejected(WarningCode.BAD_TIMESTAMP, f"{field} must be an ISO-8601 string")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Rejected(WarningCode.BAD_TIMESTAMP, f"{field} “{raw[:40]}” is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _object(raw: Any, *, field: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Rejected(WarningCode.BAD_FIELD, f"{field} must be an object")
    return raw


def event_time(message: Mapping[str, Any], *, received_at: datetime, sent_at: datetime | None) -> datetime:
    """When it happened on the server's clock: receivedAt − (sentAt − originalTimestamp).

    The device stamps `originalTimestamp` (older libraries: `timestamp`) and `sentAt` with the same,
    possibly wrong, clock; their difference is the time spent queued on the device, which holds
    whatever the clock's error. Without `sentAt` the device's time is taken as it is.
    """
    original = parse_time(message.get("originalTimestamp"), field="originalTimestamp")
    if original is None:
        original = parse_time(message.get("timestamp"), field="timestamp")
    sent = parse_time(message.get("sentAt"), field="sentAt") or sent_at
    if original is None:
        return received_at
    moment = received_at - (sent - original) if sent is not None else original
    if not received_at - OLDEST_ALLOWED <= moment <= received_at + NEWEST_ALLOWED:
        raise Rejected(WarningCode.BAD_TIMESTAMP, f"time {moment.isoformat()} is absurdly far from now")
    return moment


def normalise(
    message: Any,
    *,
    received: Received,
    sent_at: datetime | None = None,
    batch_context: Mapping[str, Any] | None = None,
    default_type: str | None = None,
    check_size: bool = True,
) -> dict[str, Any]:
    """One incoming message → the stored form, or `Rejected`."""
    if not isinstance(message, dict):
        raise Rejected(WarningCode.BAD_FIELD, "a message must be a JSON object")
    kind = message.get("type", default_type)
    if kind not in TYPES:
        raise Rejected(WarningCode.BAD_TYPE, f"unknown type “{str(kind)[:30]}”")
    if check_size and (size := len(orjson.dumps(message))) > MAX_EVENT_BYTES:
        raise Rejected(WarningCode.TOO_LARGE, f"the message is {size} bytes; the limit is {MAX_EVENT_BYTES}")

    user_id = _clean_id(message.get("userId"), field="userId", limit=MAX_USER_ID_LENGTH)
    anonymous_id = _clean_id(message.get("anonymousId"), field="anonymousId", limit=MAX_ID_LENGTH)
    if not user_id and not anonymous_id:
        raise Rejected(WarningCode.MISSING_ID, "neither userId nor anonymousId is given")

    name = ""
    if kind in NAME_FIELD:
        field = NAME_FIELD[kind]
        raw_name = message.get(field)
        if kind in ("group", "alias"):
            name = _clean_id(raw_name, field=field, limit=MAX_USER_ID_LENGTH)
        elif raw_name is not None:
            if not isinstance(raw_name, str):
                raise Rejected(WarningCode.BAD_FIELD, f"{field} must be a string")
            name = raw_name.strip()[:MAX_NAME_LENGTH]
        if not name and kind in ("track", "group", "alias"):
            raise Rejected(WarningCode.BAD_FIELD, f"a {kind} message needs {field}")
        if kind == "alias" and not user_id:
            raise Rejected(WarningCode.MISSING_ID, "an alias message needs userId")

    payload_field = PAYLOAD_FIELD.get(kind, "properties")
    properties = _object(message.get(payload_field), field=payload_field)
    if kind == "identify" and not properties:  # some libraries put identify traits in context.traits
        properties = _object(_object(message.get("context"), field="context").get("traits"), field="traits")
    context = {**(batch_context or {}), **_object(message.get("context"), field="context")}
    if received.ip and "ip" not in context:
        context["ip"] = received.ip
    if received.user_agent and "userAgent" not in context:
        context["userAgent"] = received.user_agent
    if kind in ("page", "screen") and message.get("category"):
        properties = {**properties, "category": str(message["category"])[:MAX_NAME_LENGTH]}

    message_id = _clean_id(message.get("messageId"), field="messageId", limit=MAX_ID_LENGTH) or str(uuid7())
    timestamp = event_time(message, received_at=received.at, sent_at=sent_at)
    return {
        "messageId": message_id,
        "type": kind,
        "name": name,
        "userId": user_id,
        "anonymousId": anonymous_id,
        "properties": properties,
        "context": context,
        "timestamp": timestamp.isoformat(),
        "receivedAt": received.at.isoformat(),
    }
