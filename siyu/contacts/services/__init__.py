"""Every write on contacts and their satellites. Views, API handlers and tasks call these."""

from siyu.contacts.services.channels import channel_create
from siyu.contacts.services.contacts import (
    MERGE_RULE,
    contact_create,
    contact_delete,
    contact_merge,
    contact_merge_preview,
    contact_owner_change,
    contact_phone_reveal,
    contact_stage_change,
    contact_update,
    identity_add,
    identity_remove,
    timeline_record,
)
from siyu.contacts.services.exporting import export_column_choices, export_job_create, export_job_run
from siyu.contacts.services.fields import custom_field_create, custom_field_delete, custom_field_update
from siyu.contacts.services.follow_ups import follow_up_complete, follow_up_create
from siyu.contacts.services.importing import (
    import_job_configure,
    import_job_confirm,
    import_job_create,
    import_job_run,
    import_preview,
    import_target_choices,
)
from siyu.contacts.services.saved_views import saved_view_create, saved_view_delete
from siyu.contacts.services.tags import (
    contact_tags_add,
    contact_tags_remove,
    contacts_tag_bulk,
    tag_create,
    tag_delete,
    tag_group_create,
    tag_group_delete,
    tag_group_update,
    tag_update,
    tags_for_names,
)
from siyu.contacts.services.upsert import (
    MAX_BATCH,
    RowResult,
    UpsertKey,
    contact_statistics_refresh,
    contacts_upsert,
)
from siyu.contacts.services.values import ContactLookups, contact_values_clean

__all__ = [
    "MAX_BATCH",
    "MERGE_RULE",
    "ContactLookups",
    "RowResult",
    "UpsertKey",
    "channel_create",
    "contact_create",
    "contact_delete",
    "contact_merge",
    "contact_merge_preview",
    "contact_owner_change",
    "contact_phone_reveal",
    "contact_stage_change",
    "contact_statistics_refresh",
    "contact_tags_add",
    "contact_tags_remove",
    "contact_update",
    "contact_values_clean",
    "contacts_tag_bulk",
    "contacts_upsert",
    "custom_field_create",
    "custom_field_delete",
    "custom_field_update",
    "export_column_choices",
    "export_job_create",
    "export_job_run",
    "follow_up_complete",
    "follow_up_create",
    "identity_add",
    "identity_remove",
    "import_job_configure",
    "import_job_confirm",
    "import_job_create",
    "import_job_run",
    "import_preview",
    "import_target_choices",
    "saved_view_create",
    "saved_view_delete",
    "tag_create",
    "tag_delete",
    "tag_group_create",
    "tag_group_delete",
    "tag_group_update",
    "tag_update",
    "tags_for_names",
    "timeline_record",
]
