"""The product speaks Simplified Chinese by default, English on request, from a complete, compiled catalogue."""

import ast
import gettext
import io
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from siyu.contacts.forms import ContactForm
from siyu.contacts.models import Stage
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.forms import AuditFilterForm
from siyu.tenancy.models import Member, Workspace
from siyu.tenancy.roles import Role
from tests.factories import MemberFactory

CATALOGUE = Path(settings.LOCALE_PATHS[0]) / "zh_Hans" / "LC_MESSAGES"
PO_FILE = CATALOGUE / "django.po"
MO_FILE = CATALOGUE / "django.mo"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[-#0 +]?\d*(?:\.\d+)?[sdif]|%%|%[sd]")


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)


def read_po(path: Path) -> list[Entry]:
    """A small reader for the .po files makemessages writes (no obsolete entries, no previous msgids)."""
    entries: list[Entry] = []
    current = Entry()
    target: tuple[str, int] = ("msgid", 0)

    def finish() -> None:
        nonlocal current
        if current.msgstr:
            entries.append(current)
        current = Entry()

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        if line.startswith("#,"):
            if current.msgstr:
                finish()
            current.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            if current.msgstr:
                finish()
            continue
        keyword, _space, rest = line.partition(" ")
        if line.startswith('"'):
            keyword, rest = "", line
        elif keyword in ("msgctxt", "msgid") and current.msgstr:
            finish()
        text = ast.literal_eval(rest)
        if keyword == "msgctxt":
            current.msgctxt, target = text, ("msgctxt", 0)
        elif keyword == "msgid":
            current.msgid, target = text, ("msgid", 0)
        elif keyword == "msgid_plural":
            current.msgid_plural, target = text, ("msgid_plural", 0)
        elif keyword.startswith("msgstr"):
            index = int(keyword[7:-1]) if keyword.startswith("msgstr[") else 0
            current.msgstr[index], target = text, ("msgstr", index)
        elif target[0] == "msgstr":
            current.msgstr[target[1]] += text
        else:
            setattr(current, target[0], (getattr(current, target[0]) or "") + text)
    finish()
    return entries


@pytest.fixture(scope="module")
def po_entries() -> list[Entry]:
    entries = read_po(PO_FILE)
    assert entries[0].msgid == ""  # the header
    return entries[1:]


def test_the_catalogue_is_complete_with_nothing_fuzzy(po_entries: list[Entry]) -> None:
    header = read_po(PO_FILE)[0]
    assert "fuzzy" not in header.flags
    assert "Plural-Forms: nplurals=1; plural=0;" in header.msgstr[0]
    assert len(po_entries) > 700
    assert [e.msgid for e in po_entries if "fuzzy" in e.flags] == []
    assert [e.msgid for e in po_entries if not all(e.msgstr.values())] == []
    assert [e.msgid for e in po_entries if e.msgid_plural and set(e.msgstr) != {0}] == []


def test_every_translation_keeps_the_placeholders(po_entries: list[Entry]) -> None:
    broken = [
        e.msgid
        for e in po_entries
        if sorted(PLACEHOLDER.findall(e.msgid_plural or e.msgid)) != sorted(PLACEHOLDER.findall(e.msgstr[0]))
    ]
    assert broken == []


def test_the_committed_mo_matches_the_po(po_entries: list[Entry]) -> None:
    raw = MO_FILE.read_bytes()
    magic, _revision, count = struct.unpack("<3I", raw[:12])
    assert magic == 0x950412DE
    assert count == len(po_entries) + 1  # plus the header

    compiled = gettext.GNUTranslations(io.BytesIO(raw))
    stale = []
    for e in po_entries:
        if e.msgid_plural and e.msgctxt:
            found = compiled.npgettext(e.msgctxt, e.msgid, e.msgid_plural, 1)
        elif e.msgid_plural:
            found = compiled.ngettext(e.msgid, e.msgid_plural, 1)
        elif e.msgctxt:
            found = compiled.pgettext(e.msgctxt, e.msgid)
        else:
            found = compiled.gettext(e.msgid)
        if found != e.msgstr[0]:
            stale.append(e.msgid)
    assert stale == []
    assert compiled.gettext("Log in") == "登录"
    assert compiled.ngettext("%(n)s contact", "%(n)s contacts", 5) == "%(n)s 个客户"


def test_login_page_is_in_chinese_by_default(client: Client, db: None) -> None:
    response = client.get(reverse("web:login"))

    body = response.content.decode()
    assert response["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in body
    assert "登录你的工作区" in body
    assert "用户名" in body
    assert "Log in to your workspace" not in body


def test_home_is_in_chinese_and_shows_only_the_own_workspace(
    client: Client, rep: Member, other_workspace: Workspace
) -> None:
    client.force_login(rep.user)

    body = client.get(reverse("web:home")).content.decode()

    assert '<html lang="zh-hans"' in body
    assert f"你好，{rep.display_name}" in body
    assert ">客户<" in body or "客户</span>" in body
    assert "我的待办：待跟进" in body
    assert "My contacts" not in body
    assert rep.workspace.name in body
    assert other_workspace.name not in body


def test_setlang_switches_to_english_and_back(client: Client, rep: Member) -> None:
    client.force_login(rep.user)

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    home = client.get(reverse("web:home"))
    body = home.content.decode()
    assert home["Content-Language"] == "en"
    assert f"Hello, {rep.display_name}" in body
    assert "My to-dos: follow-ups due" in body
    assert "我的待办" not in body

    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "我的待办：待跟进" in client.get(reverse("web:home")).content.decode()


def test_english_login_page_from_the_cookie(client: Client, db: None) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    body = client.get(reverse("web:login")).content.decode()

    assert '<html lang="en">' in body
    assert "Log in to your workspace" in body
    assert "登录你的工作区" not in body


def test_same_english_word_different_chinese_words(workspace: Workspace) -> None:
    """“Owner” the role is 所有者, “Owner” of a contact is 负责人; “Member” the stage is 会员, the person 成员."""
    with translation.override("zh-hans"):
        assert str(Role.OWNER.label) == "所有者"
        assert str(ContactForm.base_fields["owner"].label) == "负责人"
        assert str(Stage.MEMBER.label) == "会员"
        assert str(AuditFilterForm.base_fields["member"].label) == "成员"
    with translation.override("en"):
        assert (str(Role.OWNER.label), str(Stage.MEMBER.label)) == ("Owner", "Member")


def test_commands_speak_chinese_by_default(db: None) -> None:
    out = io.StringIO()

    call_command(
        "createworkspace", "花漾美妆", slug="huayang", owner="boss", password="orchid-lantern-42", stdout=out
    )

    assert "已创建工作区 花漾美妆（huayang），所有者为 boss。" in out.getvalue()


def test_another_workspace_member_sees_chinese_pages_of_their_own(
    client: Client, rep: Member, other_workspace: Workspace
) -> None:
    with workspace_scope(other_workspace.id):
        stranger = MemberFactory(display_name="外人")
    client.force_login(stranger.user)

    body = client.get(reverse("web:home")).content.decode()

    assert "你好，外人" in body
    assert rep.display_name not in body
    assert rep.workspace.name not in body
