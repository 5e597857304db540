import uuid

import pytest

from siyu.contacts.models import Contact
from siyu.core.errors import NoActiveWorkspace
from siyu.core.ids import uuid7
from siyu.core.tenancy import workspace_scope
from tests.factories import ContactFactory


def test_querying_a_tenant_model_without_a_workspace_raises(db):
    with pytest.raises(NoActiveWorkspace):
        list(Contact.objects.all())


def test_rows_are_stamped_and_filtered_by_the_active_workspace(workspace, other_workspace):
    mine = ContactFactory(name="张三")
    assert mine.workspace_id == workspace.id
    with workspace_scope(other_workspace.id):
        theirs = ContactFactory(name="李四")
        assert list(Contact.objects.values_list("name", flat=True)) == ["李四"]
    assert list(Contact.objects.values_list("id", flat=True)) == [mine.id]
    assert not Contact.objects.filter(id=theirs.id).exists()


def test_writing_another_workspaces_row_is_refused(workspace, other_workspace):
    contact = ContactFactory()
    with workspace_scope(other_workspace.id), pytest.raises(NoActiveWorkspace):
        contact.save()


def test_bulk_create_stamps_the_workspace(workspace):
    Contact.objects.bulk_create([Contact(name="王五"), Contact(name="赵六")])
    assert sorted(Contact.objects.values_list("name", flat=True)) == ["王五", "赵六"]
    assert set(Contact.objects.values_list("workspace_id", flat=True)) == {workspace.id}


def test_uuid7_is_time_ordered_and_version_7():
    ids = [uuid7() for _ in range(20_000)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids)  # strictly increasing, even within one millisecond
    assert len(set(ids)) == 20_000
