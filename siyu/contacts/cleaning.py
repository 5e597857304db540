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
from pypinyin.constants import PHRASES_DICT, PINYIN_DICT, RE_HANS

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
    words = _short_name_words(name) if len(name) <= _SHORT_NAME else None
    if words is None:
        syllables = [s.lower() for s in lazy_pinyin(name, errors="default") if s.strip()]
        words = [s for s in (re.sub(r"[^a-z0-9]", "", s) for s in syllables) if s]
    return "".join(words)[:300], "".join(w[0] for w in words)[:100]


_SHORT_NAME = 4
_NOT_A_PLAIN_CHARACTER = ""


@functools.lru_cache(maxsize=32_768)
def _character_word(char: str) -> str:
    """The search word of one Chinese character with a single dictionary reading, or "" when it has none."""
    if char in PHRASES_DICT or not RE_HANS.match(char) or ord(char) not in PINYIN_DICT:
        return _NOT_A_PLAIN_CHARACTER
    syllables = [s.lower() for s in lazy_pinyin(char, errors="default") if s.strip()]
    words = [s for s in (re.sub(r"[^a-z0-9]", "", s) for s in syllables) if s]
    return words[0] if len(words) == 1 else _NOT_A_PLAIN_CHARACTER


def _short_name_words(name: str) -> list[str] | None:
    """The words `lazy_pinyin` gives a short all-Chinese name, looked up character by character.

    pypinyin gives a character another reading than its own only inside a phrase of its dictionary
    (重 is chong in 重庆), so when no run of two or more characters of the name is such a phrase, the
    name's words are its characters' words, in order. Anything else (phrases, letters, digits,
    characters without a reading) answers None and goes through pypinyin itself.
    """
    words = []
    for char in name:
        word = _character_word(char)
        if not word:
            return None
        words.append(word)
    size = len(name)
    for start in range(size - 1):
        for end in range(start + 2, size + 1):
            if name[start:end] in PHRASES_DICT:
                return None
    return words


def reversed_digits(phone: str) -> str:
    """The phone's digits back to front: a phone-suffix search ("尾号 8000") becomes an indexed prefix search."""
    return "".join(filter(str.isdigit, phone))[::-1]


def _cn_mobile_pattern() -> re.Pattern[str]:
    """phonenumbers' own pattern for mainland mobile numbers (never matching if its metadata lacks one).

    The bulk of every import: 11 ASCII digits matching it parse (region CN, no prefix to strip) to
    +86 followed by those digits, and are valid, so they need no full parse.
    """
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    mobile = metadata.mobile if metadata is not None else None
    pattern = mobile.national_number_pattern if mobile is not None else None
    return re.compile(pattern or "(?!)", re.ASCII)


_CN_MOBILE = _cn_mobile_pattern()


def clean_phone(raw: Any, *, region: str | None = None) -> str:
    text = _SPACES.sub("", str(raw or "").strip())
    if not text:
        return ""
    if text.endswith(".0") and text[:-2].isdigit():  # spreadsheets turn numbers into floats
        text = text[:-2]
    region = region or settings.SIYU_PHONE_REGION
    if region == "CN" and len(text) == 11 and text.isascii() and _CN_MOBILE.fullmatch(text):
        return "+86" + text
    try:
        number = phonenumbers.parse(text, region)
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
