"""Events and radar alerts as sentences a rep can read, in the active language.

Everything here is pure: it looks at an event's type, name, properties and context (or a radar
notification's `data`) and answers a sentence, never touching the database. Text is plain (escape it
when you put it in HTML); titles are quoted the way each language quotes them (《…》 in Chinese).
"""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from siyu.tracking.models import ENGAGEMENT_EVENTS, Event, EventType, Notification, NotificationKind

YUAN_CURRENCIES = frozenset({"", "CNY", "RMB"})
# Traits that count as "contact details", in the order they are named.
IDENTITY_TRAITS = ("phone", "email", "name", "unionid", "openid")


# ------------------------------------------------------------------------------------------ pieces


def duration_text(milliseconds: int | float | None) -> str:
    """A dwell time: "2 min 10 s" / 「2 分 10 秒」, "45 s", "1 h 5 min"; rounded down to the second."""
    total = max(0, int((milliseconds or 0) // 1000))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    if minutes and seconds:
        return _("%(minutes)s min %(seconds)s s") % {"minutes": minutes, "seconds": seconds}
    if minutes:
        return _("%(minutes)s min") % {"minutes": minutes}
    return _("%(seconds)s s") % {"seconds": seconds}


def _text(value: Any, limit: int = 120) -> str:
    text = " ".join(str(value).split()) if isinstance(value, str | int | float) else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return None
    return None


def _page(properties: Mapping[str, Any], context: Mapping[str, Any]) -> Mapping[str, Any]:
    page = context.get("page")
    return page if isinstance(page, Mapping) else {}


def page_title(properties: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> str:
    """The page's title, from the event's properties or its context."""
    page = _page(properties, context or {})
    return _text(properties.get("title")) or _text(page.get("title"))


def page_location(properties: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> str:
    """Where the page is when it has no title: its path, else its URL."""
    page = _page(properties, context or {})
    for value in (properties.get("path"), page.get("path"), properties.get("url"), page.get("url")):
        text = _text(value, limit=200)
        if text:
            return text
    return ""


def _titled(title_message: str, location_message: str, title: str, location: str, **more: Any) -> str:
    if title:
        return title_message % {"title": title, **more}
    return location_message % {"page": location or _("a page"), **more}


def money_text(value: Any, currency: Any = "") -> str:
    """An amount with two decimals: "¥199.00", or "USD 20.00" for other currencies."""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return ""
    code = _text(currency).upper()
    figure = f"{amount:,.2f}"
    return f"¥{figure}" if code in YUAN_CURRENCIES else f"{code} {figure}"


def _list_join(parts: list[str]) -> str:
    return pgettext("list separator", ", ").join(parts)


def _identity_fields(properties: Mapping[str, Any], user_id: str) -> list[str]:
    labels = {
        "phone": _("phone number"),
        "email": _("email"),
        "name": _("name"),
        "unionid": _("WeChat ID"),
        "openid": _("WeChat ID"),
    }
    present = [labels[key] for key in IDENTITY_TRAITS if properties.get(key) not in (None, "")]
    fields = list(dict.fromkeys(present))
    if not fields and user_id:
        fields.append(_("user ID"))
    return fields


# ------------------------------------------------------------------------------------------ events


def _engagement_sentence(properties: Mapping[str, Any], context: Mapping[str, Any]) -> str:
    title = page_title(properties, context)
    location = page_location(properties, context)
    dwell = duration_text(_number(properties.get("active_dwell_ms")))
    depth = _number(properties.get("scroll_depth"))
    if depth is None:
        return _titled(
            _("Read “%(title)s” for %(duration)s"),
            _("Stayed on %(page)s for %(duration)s"),
            title,
            location,
            duration=dwell,
        )
    return _titled(
        _("Read “%(title)s” for %(duration)s, up to %(depth)s%%"),
        _("Stayed on %(page)s for %(duration)s, up to %(depth)s%%"),
        title,
        location,
        duration=dwell,
        depth=max(0, min(depth, 100)),
    )


def _track_sentence(name: str, properties: Mapping[str, Any], context: Mapping[str, Any]) -> str:
    if name in ENGAGEMENT_EVENTS:
        return _engagement_sentence(properties, context)
    if name == "Order Completed":
        amount = properties.get("total")
        if amount in (None, ""):
            amount = properties.get("revenue")
        money = money_text(amount, properties.get("currency")) if amount not in (None, "") else ""
        return _("Placed an order of %(amount)s") % {"amount": money} if money else _("Placed an order")
    if name == "Form Submitted":
        form = _text(properties.get("form_name") or properties.get("form") or properties.get("title"))
        return _("Submitted the form “%(form)s”") % {"form": form} if form else _("Submitted a form")
    fixed = {
        "Signed Up": _("Signed up"),
        "Signed In": _("Signed in"),
        "Subscribed": _("Subscribed"),
        "Account Followed": _("Followed the official account"),
        "WeCom Friend Added": _("Added as a WeCom friend"),
        "Member Joined": _("Joined the membership"),
    }
    if name in fixed:
        return fixed[name]
    if name == "Content Shared":
        title = page_title(properties, context)
        return _("Shared “%(title)s”") % {"title": title} if title else _("Shared a page")
    return _("Triggered the event %(name)s") % {"name": _text(name) or "—"}


def describe(
    *,
    event_type: str,
    name: str = "",
    properties: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    user_id: str = "",
) -> str:
    """One event as a sentence without a subject: 「浏览了《秋冬护肤指南》」, "Placed an order of ¥199.00"."""
    properties = properties if isinstance(properties, Mapping) else {}
    context = context if isinstance(context, Mapping) else {}
    if event_type == EventType.PAGE:
        title = page_title(properties, context) or _text(name)
        location = page_location(properties, context)
        if properties.get("share_token") or properties.get("content_id"):
            return _titled(
                _("Opened the shared “%(title)s”"),
                _("Opened a shared page %(page)s"),
                title,
                location,
            )
        return _titled(_("Viewed “%(title)s”"), _("Viewed %(page)s"), title, location)
    if event_type == EventType.SCREEN:
        return _("Opened the screen %(name)s") % {"name": _text(name) or "—"}
    if event_type == EventType.IDENTIFY:
        fields = _identity_fields(properties, user_id)
        if fields:
            return _("Left their contact details (%(fields)s)") % {"fields": _list_join(fields)}
        return _("Was identified")
    if event_type == EventType.GROUP:
        return _("Joined the group %(name)s") % {"name": _text(name) or "—"}
    if event_type == EventType.ALIAS:
        return _("Was linked to an earlier identity")
    return _track_sentence(name, properties, context)


def describe_event(event: Event) -> str:
    return describe(
        event_type=event.type,
        name=event.name,
        properties=event.properties,
        context=event.context,
        user_id=event.user_id,
    )


def event_icon(event: Event) -> str:
    """A Tabler icon name (from the vendored sprite) for the event's row on a timeline."""
    if event.type == EventType.PAGE:
        properties = event.properties if isinstance(event.properties, Mapping) else {}
        return "share" if properties.get("share_token") or properties.get("content_id") else "eye"
    if event.type == EventType.SCREEN:
        return "device-mobile"
    if event.type == EventType.IDENTIFY:
        return "id"
    if event.type in (EventType.GROUP, EventType.ALIAS):
        return "link"
    icons = {
        "Page Engaged": "clock",
        "Page Left": "clock",
        "Order Completed": "shopping-cart",
        "Form Submitted": "forms",
        "Signed Up": "user-plus",
        "Signed In": "login",
        "Subscribed": "bell",
        "Account Followed": "brand-wechat",
        "WeCom Friend Added": "brand-wechat",
        "Member Joined": "star",
        "Content Shared": "share",
    }
    return icons.get(event.name, "activity")


# ------------------------------------------------------------------------------------ radar alerts


def describe_alert(*, kind: str, data: Mapping[str, Any]) -> str:
    """A radar alert: 「张三 正在阅读《秋冬护肤指南》，已停留 2 分 10 秒」 and its siblings."""
    data = data if isinstance(data, Mapping) else {}
    who = _text(data.get("contact_name")) or _("A visitor")
    title = _text(data.get("title"))
    location = _text(data.get("path"), limit=200) or _text(data.get("url"), limit=200)
    dwell_ms = _number(data.get("dwell_ms")) or 0
    dwell = duration_text(dwell_ms)
    depth = _number(data.get("depth", data.get("scroll_depth")))
    left = data.get("state") == "left"
    if kind == NotificationKind.IDENTIFIED:
        return _("%(name)s left their contact details") % {"name": who}
    if kind == NotificationKind.KEY_PAGE:
        page = title or location or _("a page")
        if left:
            return _("%(name)s viewed %(page)s for %(duration)s") % {
                "name": who,
                "page": page,
                "duration": dwell,
            }
        if dwell_ms < 1000:
            return _("%(name)s is viewing %(page)s") % {"name": who, "page": page}
        return _("%(name)s is viewing %(page)s, %(duration)s so far") % {
            "name": who,
            "page": page,
            "duration": dwell,
        }
    title = title or location or _("a page")
    if left:
        if depth is not None:
            return _("%(name)s finished reading “%(title)s”: %(duration)s, up to %(depth)s%%") % {
                "name": who,
                "title": title,
                "duration": dwell,
                "depth": max(0, min(depth, 100)),
            }
        return _("%(name)s finished reading “%(title)s”: %(duration)s") % {
            "name": who,
            "title": title,
            "duration": dwell,
        }
    if dwell_ms < 1000:
        return _("%(name)s opened “%(title)s”") % {"name": who, "title": title}
    return _("%(name)s is reading “%(title)s”, %(duration)s so far") % {
        "name": who,
        "title": title,
        "duration": dwell,
    }


def describe_notification(notification: Notification) -> str:
    data = notification.data if isinstance(notification.data, Mapping) else {}
    return describe_alert(kind=notification.kind or str(data.get("kind", "")), data=data)
