"""`siyu import FILE --workspace W`, end to end."""

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from siyu.contacts.models import Contact, ImportJob, JobStatus
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.models import AuditAction, AuditEntry, Workspace
from siyu.tenancy.roles import Role
from tests.contacts.test_import import csv_bytes


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    with translation.override("en"):
        yield


def test_cli_imports_with_progress_and_summary(
    workspace: Workspace, make_member: Any, tmp_path: Path, other_workspace: Workspace
) -> None:
    owner = make_member(Role.OWNER, display_name="老板")
    rows = [["姓名", "手机", "公司"]] + [[f"客户{i}", f"1380000{i:04d}", "花漾"] for i in range(1500)]
    rows.append(["坏行", "123", ""])
    source = tmp_path / "客户.csv"
    source.write_bytes(csv_bytes(rows))
    out, err = io.StringIO(), io.StringIO()

    call_command("import", str(source), "--workspace", workspace.slug, stdout=out, stderr=err)

    assert out.getvalue().splitlines()[:5] == [
        "Columns: 姓名 → name, 手机 → phone, 公司 → company",
        "0 / 1501 rows (0%)",
        "1000 / 1501 rows (66%)",
        "1501 / 1501 rows (100%)",
        "Done: 1501 rows — 1500 created, 0 updated, 0 unchanged, 0 skipped, 1 failed.",
    ]
    assert out.getvalue().splitlines()[5].startswith("Error report: ")
    assert Contact.objects.count() == 1500
    assert set(Contact.objects.values_list("owner_id", flat=True)) == {owner.id}
    job = ImportJob.objects.get()
    assert (job.status, job.created_by_id, job.failed_count) == (JobStatus.DONE, owner.id, 1)
    assert AuditEntry.objects.filter(action=AuditAction.CONTACTS_IMPORTED, member=owner).count() == 1
    with workspace_scope(other_workspace.id):
        assert Contact.objects.count() == 0
        assert ImportJob.objects.count() == 0

    # run again with --on-duplicate skip: nothing new
    out = io.StringIO()
    call_command("import", str(source), "--workspace", workspace.slug, "--on-duplicate", "skip", stdout=out)
    assert "Done: 1501 rows — 0 created, 0 updated, 0 unchanged, 1500 skipped, 1 failed." in out.getvalue()


def test_cli_refuses_bad_input(workspace: Workspace, make_member: Any, tmp_path: Path) -> None:
    make_member(Role.OWNER)
    source = tmp_path / "bad.csv"
    source.write_bytes(b"")
    with pytest.raises(CommandError, match=r"The file is empty\."):
        call_command("import", str(source), "--workspace", workspace.slug)
    with pytest.raises(CommandError, match="no workspace with the slug"):
        call_command("import", str(source), "--workspace", "nope")
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([["姓名", "手机"], ["张三", "13800138000"]]))
    with pytest.raises(CommandError, match="Map a column to “Email”"):
        call_command("import", str(good), "--workspace", workspace.slug, "--dedupe", "email")
    with pytest.raises(CommandError, match="is not an active member"):
        call_command("import", str(good), "--workspace", workspace.slug, "--as", "ghost")
    assert Contact.objects.count() == 0
