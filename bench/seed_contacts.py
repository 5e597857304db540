"""Seed a benchmark workspace: `python bench/seed_contacts.py --contacts 100000`.

Uses the settings from the environment (DATABASE_URL, SIYU_VAR_DIR …). Creates workspace "bench"
with an owner (bench-admin), a sales rep (bench-rep) and an API key, then N contacts through the
same batch path as imports and the API (contacts_upsert). Prints one JSON line with what it made.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings")

import django

django.setup()

from _common import fake_rows  # noqa: E402

from siyu.contacts.services import UpsertKey, contact_statistics_refresh, contacts_upsert  # noqa: E402
from siyu.core.tenancy import workspace_scope  # noqa: E402
from siyu.tenancy.models import Member, Workspace  # noqa: E402
from siyu.tenancy.roles import Role  # noqa: E402
from siyu.tenancy.selectors import actor_for_member  # noqa: E402
from siyu.tenancy.services import api_key_create, member_create, user_get_or_create, workspace_create  # noqa: E402

PASSWORD = "bench-password-123"  # noqa: S105


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument(
        "--raw-insert",
        type=int,
        default=0,
        help="instead: time a plain bulk INSERT of N contacts (the ceiling)",
    )
    args = parser.parse_args()
    if args.raw_insert:
        raw_insert(args.raw_insert)
        return
    owner_user = user_get_or_create(username="bench-admin", password=PASSWORD)
    workspace = Workspace.objects.filter(slug="bench").first() or workspace_create(
        name="Bench", slug="bench", owner=owner_user, owner_name="基准管理员"
    )
    with workspace_scope(workspace.id):
        owner = Member.objects.get(user=owner_user)
        admin = actor_for_member(member=owner)
        rep = Member.objects.filter(user__username="bench-rep").first() or member_create(
            actor=admin, username="bench-rep", display_name="基准销售", role=Role.SALES, password=PASSWORD
        )
        _key, raw_key = api_key_create(actor=admin, name="bench", scopes=["read", "write"])
        owners = [owner.display_name, rep.display_name, ""]
        started = time.perf_counter()
        contact_ids: list[str] = []
        for start in range(0, args.contacts, 1000):
            rows = fake_rows(min(1000, args.contacts - start), start=start)
            for i, row in enumerate(rows):
                row["owner"] = owners[(start + i) % 3]
            results = contacts_upsert(actor=admin, rows=rows, key=UpsertKey("phone"), source="import")
            contact_ids += [str(r.contact_id) for r in results if r.contact_id]
        contact_statistics_refresh()  # as an import does at its end
        seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "workspace": str(workspace.id),
                "api_key": raw_key,
                "contacts": len(contact_ids),
                "seed_seconds": round(seconds, 2),
                "sample_ids": contact_ids[:: max(1, len(contact_ids) // 2000)],
                "rep_sample_ids": contact_ids[1::3][:: max(1, len(contact_ids) // 6000)],
            }
        )
    )


def raw_insert(count: int) -> None:
    """The database's own ceiling for this table: bulk INSERTs, no validation, identities or history."""
    from siyu.contacts.cleaning import name_search_keys
    from siyu.contacts.models import Contact

    workspace = Workspace.objects.get(slug="bench")
    rows = fake_rows(count, start=50_000_000)
    started = time.perf_counter()
    with workspace_scope(workspace.id):
        for start in range(0, count, 1000):
            batch = []
            for row in rows[start : start + 1000]:
                pinyin, initials = name_search_keys(row["name"])
                batch.append(
                    Contact(
                        name=row["name"],
                        name_pinyin=pinyin,
                        name_initials=initials,
                        phone="+86" + row["phone"],
                        email=row["email"],
                        city=row["city"],
                        stage=row["stage"],
                    )
                )
            Contact.objects.bulk_create(batch)
    print(json.dumps({"raw_insert_rows": count, "seconds": round(time.perf_counter() - started, 3)}))


if __name__ == "__main__":
    main()
