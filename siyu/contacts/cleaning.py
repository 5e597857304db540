"""Turning raw values (forms, API payloads, spreadsheet cells) into clean contact values.

Each function raises ValueError with a human sentence; callers attach the field path.
"""

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from pypinyin import lazy_pinyin

from siyu.contacts.models import CustomField, FieldType, Gender, Stage

_STAGE_WORDS: dict[str, Stage] = {
    **{s.value: s for s in Stage},
    "访客": Stage.VISITOR,
    "游客": Stage.ENGAGED,
    "粉丝": Stage.FOLLOWER,
    "好友": Stage.FRIEND,
    "客户": Stage.CUSTOMER,
    "会员": Stage.MEMBER,
}
_GENDER_WORDS: dict[str, str] = {
    "": Gender.UNKNOWN,
    "female": Gender.FEMALE,
    "f": Gender.FEMALE,
    "女": Gender.FEMALE,
    "male": Gender.MALE,
    "m": Gender.MALE,
    "男": Gender.MALE,
    "unknown": Gender.UNKNOWN,
    "未知": Gender.UNKNOWN,
}
_TRUE_WORDS = {"1", "true", "yes", "y", "是", "对", "真"}
_FALSE_WORDS = {"0", "false", "no", "n", "否", "不", "假"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_SPACES = re.compile(r"[\s\-()（）]")


@functools.lru_cache(maxsize=65_536)
def name_search_keys(name: str) -> tuple[str, str]:
    """(full pinyin, initials) for name search: 张三 → ("zhangsan", "zs")."""
    if not name:
        return "", ""
    syllables = [s.lower() for s in lazy_pinyin(name, errors="default") if s.strip()]
    words = [s for s in (re.sub(r"[^a-z0-9]", "", s) for s in syllables) if s]
    return "".join(words)[:300], "".join(w[0] for w in words)[:100]


def reversed_digits(phone: str) -> str:
    """The phone's digits back to front: a phone-suffix search ("尾号 8000") becomes an indexed prefix search."""
    return "".join(ch for ch in reversed(phone) if ch.isdigit())


def clean_phone(raw: Any, *, region: str | None = None) -> str:
    text = _SPACES.sub("", str(raw or "").strip())
    if not text:
        return ""
    if text.endswith(".0") and text[:-2].isdigit():  # spreadsheets turn numbers into floats
        text = text[:-2]
    try:
        number = phonenumbers.parse(text, region or settings.SIYU_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(_("“%(value)s” is not a phone number.") % {"value": raw}) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(_("“%(value)s” is not a valid phone number.") % {"value": raw})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_email(raw: Any) -> str:
    text = str(raw or "").strip().lower()
    if not text:
        return ""
    try:
        validate_email(text)
    except DjangoValidationError as exc:
        raise ValueError(_("“%(value)s” is not an email address.") % {"value": raw}) from exc
    return text


def clean_date(raw: Any) -> date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date, no time zone
        except ValueError:
            continue
    raise ValueError(_("“%(value)s” is not a date (use YYYY-MM-DD).") % {"value": raw})


def clean_stage(raw: Any) -> Stage:
    text = str(raw or "").strip().lower()
    if text in _STAGE_WORDS:
        return _STAGE_WORDS[text]
    raise ValueError(
        _("“%(value)s” is not a lifecycle stage (one of %(stages)s).")
        % {"value": raw, "stages": ", ".join(f"{s.value}/{s.label}" for s in Stage)}
    )


def clean_gender(raw: Any) -> str:
    text = str(raw or "").strip().lower()
    if text in _GENDER_WORDS:
        return _GENDER_WORDS[text]
    raise ValueError(_("“%(value)s” is not a gender (female/male, 女/男).") % {"value": raw})


def clean_text(raw: Any, *, max_length: int) -> str:
    text = "" if raw is None else str(raw).strip()
    if len(text) > max_length:
        raise ValueError(_("At most %(n)d characters.") % {"n": max_length})
    return text


def split_list(raw: Any) -> list[str]:
    """A list from a list, or from text separated by commas, semicolons, 、 or |."""
    if raw in (None, ""):
        return []
    if isinstance(raw, list | tuple):
        return [str(v).strip() for v in raw if str(v).strip()]
    return [p.strip() for p in re.split(r"[,，;；、|]", str(raw)) if p.strip()]


def clean_custom_value(definition: CustomField, raw: Any) -> Any:
    """A custom field's value in its stored JSON form, or None when empty."""
    if raw is None or raw == "" or raw == []:
        if definition.is_required:
            raise ValueError(_("This field is required."))
        return None
    kind = definition.type
    if kind == FieldType.TEXT:
        return clean_text(raw, max_length=1000)
    if kind == FieldType.NUMBER:
        if isinstance(raw, bool):
            raise ValueError(_("“%(value)s” is not a number.") % {"value": raw})
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation as exc:
            raise ValueError(_("“%(value)s” is not a number.") % {"value": raw}) from exc
        if not number.is_finite():
            raise ValueError(_("“%(value)s” is not a number.") % {"value": raw})
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == FieldType.DATE:
        day = clean_date(raw)
        return day.isoformat() if day else None
    if kind == FieldType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE_WORDS:
            return True
        if text in _FALSE_WORDS:
            return False
        raise ValueError(_("“%(value)s” is not yes or no.") % {"value": raw})
    options = [str(o) for o in definition.options]
    if kind == FieldType.SELECT:
        text = str(raw).strip()
        if text not in options:
            raise ValueError(
                _("“%(value)s” is not one of: %(options)s.") % {"value": raw, "options": "、".join(options)}
            )
        return text
    values = split_list(raw)
    unknown = [v for v in values if v not in options]
    if unknown:
        raise ValueError(
            _("“%(value)s” is not one of: %(options)s.")
            % {"value": "、".join(unknown), "options": "、".join(options)}
        )
    return values


def clean_custom_values(
    definitions: Iterable[CustomField], raw: Mapping[str, Any], *, partial: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean a mapping of custom values. Returns (values, errors keyed by "custom.<key>")."""
    by_key = {d.key: d for d in definitions}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in raw.items():
        definition = by_key.get(key)
        if definition is None:
            errors[f"custom.{key}"] = _("There is no custom field “%(key)s”.") % {"key": key}
            continue
        try:
            values[key] = clean_custom_value(definition, value)
        except ValueError as exc:
            errors[f"custom.{key}"] = str(exc)
    if not partial:
        for key, definition in by_key.items():
            if definition.is_required and key not in raw:
                errors[f"custom.{key}"] = _("This field is required.")
    return values, errors
