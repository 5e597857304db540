"""The fast paths of phone and name cleaning give exactly what phonenumbers and pypinyin give.

Pure functions, no data: nothing here can leak between workspaces.
"""

import random
import re

import phonenumbers
import pytest
from pypinyin import lazy_pinyin

from siyu.contacts.cleaning import _CN_MOBILE, clean_phone, name_search_keys

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤单仇解区朴查翟"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红娥玲芬燕彩春菊凤洁梅琳素云莲真环雪荣爱妹香月莺媛瑞凡佳嘉琼勤珍贞莉娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可舒影荔枝思长重乐行朝都和调"


def phonenumbers_result(text: str) -> str | None:
    """What clean_phone answered before the fast path: E.164, or None for "not a valid phone"."""
    try:
        number = phonenumbers.parse(re.sub(r"[\s\-()（）]", "", text), "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_phone_or_none(text: str) -> str | None:
    try:
        return clean_phone(text, region="CN")
    except ValueError:
        return None


def test_mainland_mobile_fast_path_matches_phonenumbers():
    rng = random.Random(20240601)
    numbers = [f"1{prefix:03d}{rng.randrange(10**7):07d}" for prefix in range(1000) for _ in range(12)]
    numbers += [f"1{prefix:03d}{suffix}" for prefix in range(1000) for suffix in ("0000000", "9999999")]
    numbers += [f"1{n:010d}"[:length] for n in range(0, 10**10, 7_777_777) for length in (10, 12)]
    numbers += [
        number.translate(str.maketrans("0123456789", "０１２３４５６７８９")) for number in numbers[:300]
    ]
    numbers += [f"{n[:3]} {n[3:7]}-{n[7:]}" for n in numbers[:300]] + [f"+86{n}" for n in numbers[:300]]
    numbers += [f"{n}.0" for n in numbers[:300]]

    fast = sum(1 for n in numbers if len(n) == 11 and n.isascii() and _CN_MOBILE.fullmatch(n))
    valid = sum(1 for n in numbers if phonenumbers_result(n) is not None)
    mismatches = [(n, clean_phone_or_none(n), phonenumbers_result(n)) for n in numbers]
    mismatches = [m for m in mismatches if m[1] != m[2]]

    assert mismatches == []
    assert 5_000 < fast < valid < len(numbers)  # both paths ran, and invalid numbers were among them


def test_other_regions_and_invalid_prefixes_still_go_through_phonenumbers():
    assert clean_phone("91234567", region="HK") == "+85291234567"
    assert clean_phone("+85291234567") == "+85291234567"
    assert clean_phone("13800138000") == "+8613800138000"
    with pytest.raises(ValueError, match="13800138000"):
        clean_phone("13800138000", region="HK")
    with pytest.raises(ValueError, match="10012345678"):
        clean_phone("10012345678")


def pypinyin_keys(name: str) -> tuple[str, str]:
    """What name_search_keys answered before the character-by-character path."""
    syllables = [s.lower() for s in lazy_pinyin(name, errors="default") if s.strip()]
    words = [s for s in (re.sub(r"[^a-z0-9]", "", s) for s in syllables) if s]
    return "".join(words)[:300], "".join(w[0] for w in words)[:100]


def test_name_keys_match_pypinyin_for_generated_names():
    rng = random.Random(7)
    names = [s + g for s in SURNAMES for g in GIVEN]
    names += [rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN) for _ in range(20_000)]
    names += [
        "".join(chr(rng.randrange(0x4E00, 0xA000)) for _ in range(rng.choice((2, 3, 4))))
        for _ in range(5_000)
    ]
    names += [
        "重庆",
        "张长江",
        "单田芳",
        "曾国藩",
        "解放军",
        "朴树",
        "乐乐",
        "长乐",
        "了不起",
        "银行行长",
        "朝阳",
    ]
    names += ["Tom张", "张3", "李 四", "〇", "王〇", "𠀀", "A", "张-三", "欧阳娜娜", "司马光明", "诸葛亮"]

    mismatches = [(n, name_search_keys(n), pypinyin_keys(n)) for n in names]

    assert [m for m in mismatches if m[1] != m[2]] == []
    assert name_search_keys("重庆") == ("chongqing", "cq")
    assert name_search_keys("张三") == ("zhangsan", "zs")
