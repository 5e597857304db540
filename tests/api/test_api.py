"""The API as a whole: schema and docs, auth (keys, scopes, session + CSRF) and the JSON error contract."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from siyu.api.errors import domain_status, field_path
from siyu.contacts.models import Contact
from siyu.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ValidationError,
)
from siyu.tenancy.models import ApiKey
from siyu.tenancy.roles import Role
from siyu.tenancy.services import api_key_revoke
from tests.api.helpers import ApiClient, error_of, make_key, other_workspace_client
from tests.factories import ContactFactory, UserFactory

EXPECTED_OPERATIONS = {
    "analytics_channels",
    "analytics_cohorts",
    "analytics_funnel",
    "analytics_segments_overlap",
    "analytics_segment_sizes",
    "analytics_content_outcomes",
    "orders_bulk",
    "orders_list",
    "segments_list",
    "segments_create",
    "segments_validate",
    "segments_for_contact",
    "segments_get",
    "segments_update",
    "segments_delete",
    "segments_rebuild",
    "segments_builds",
    "segments_members_list",
    "segments_members_add",
    "segments_members_remove",
    "segments_membership",
    "segments_snapshot",
    "segments_history",
    "rfm_settings_get",
    "rfm_settings_update",
    "rfm_refresh",
    "rfm_contact",
    "contacts_list",
    "contacts_create",
    "contacts_bulk_upsert",
    "contacts_get",
    "contacts_update",
    "contacts_delete",
    "contacts_reveal_phone",
    "contacts_owner_change",
    "contacts_stage_change",
    "contacts_identities_list",
    "contacts_identities_add",
    "contacts_identities_remove",
    "contacts_tags_add",
    "contacts_tags_remove",
    "contacts_follow_ups_list",
    "contacts_follow_ups_create",
    "contacts_follow_ups_complete",
    "contacts_timeline",
    "contacts_merge_preview",
    "contacts_merge",
    "tag_groups_list",
    "tag_groups_create",
    "tag_groups_get",
    "tag_groups_update",
    "tag_groups_delete",
    "tags_list",
    "tags_create",
    "tags_get",
    "tags_update",
    "tags_delete",
    "custom_fields_list",
    "custom_fields_create",
    "custom_fields_get",
    "custom_fields_update",
    "custom_fields_delete",
    "channels_list",
    "channels_create",
    "members_list",
    "teams_list",
}
CSRF_SECRET = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"  # 32 characters: a valid CSRF cookie value


@pytest.fixture
def api(admin_actor):
    return ApiClient(make_key(admin_actor, ["read", "write"]))


@pytest.fixture
def read_api(admin_actor):
    return ApiClient(make_key(admin_actor, ["read"], name="read only"))


# --- schema and docs ----------------------------------------------------------------------------


def test_openapi_json_lists_every_operation_with_typed_responses(db):
    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Siyu API"
    operations = {
        (path, method): op for path, methods in schema["paths"].items() for method, op in methods.items()
    }
    assert {op["operationId"] for op in operations.values()} == EXPECTED_OPERATIONS
    assert len(operations) == len(EXPECTED_OPERATIONS)
    assert set(schema["components"]["securitySchemes"]) == {"ApiKeyBearer", "ApiKeyInHeader", "SessionAuth"}
    assert schema["components"]["schemas"]["ErrorOut"]["properties"]["error"]["$ref"] == (
        "#/components/schemas/ErrorBody"
    )
    for op in operations.values():
        assert op["security"], op["operationId"]
        assert {"401", "403", "404", "422"} <= set(op["responses"]), op["operationId"]
    create = operations[("/api/v1/contacts", "post")]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ContactOut"
    }
    assert {"409", "413"} <= set(create["responses"])
    assert operations[("/api/v1/contacts/{contact_id}", "delete")]["responses"]["204"]


def test_docs_page_loads_only_local_assets(db):
    response = Client().get("/api/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(assets) == [
        "/static/ninja/favicon.png",
        "/static/ninja/favicon.svg",
        "/static/ninja/swagger-ui-bundle.js",
        "/static/ninja/swagger-ui-init.js",
        "/static/ninja/swagger-ui.css",
    ]
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html)
    assert '"validatorUrl": null' in html  # no badge fetched from validator.swagger.io
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset


# --- authentication -----------------------------------------------------------------------------


def test_no_credentials_answer_401_json(db):
    response = Client().get("/api/v1/contacts")

    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="siyu"'


def test_unknown_key_answers_401(workspace):
    response = ApiClient("sy_0000_not-a-real-key").get("/contacts")

    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_api_key"


def test_revoked_key_answers_401(admin_actor):
    raw = make_key(admin_actor, ["read", "write"])
    client = ApiClient(raw)
    assert client.get("/contacts").status_code == 200

    api_key_revoke(actor=admin_actor, api_key=ApiKey.objects.get())
    response = client.get("/contacts")

    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_api_key"


def test_x_api_key_header_is_accepted(admin_actor):
    ContactFactory(name="张三")
    client = ApiClient(make_key(admin_actor, ["read"]), header="x-api-key")

    response = client.get("/contacts")

    assert response.status_code == 200
    assert [c["name"] for c in response.json()["items"]] == ["张三"]


def test_rejected_key_does_not_fall_back_to_the_session(admin, admin_actor):
    client = Client()
    client.force_login(admin.user)

    response = ApiClient("sy_bad", client=client).get("/contacts")

    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_api_key"


def test_read_only_key_cannot_write(read_api, workspace):
    contact = ContactFactory(name="张三")

    attempts = [
        read_api.post("/contacts", {"name": "李四"}),
        read_api.patch(f"/contacts/{contact.id}", {"city": "杭州"}),
        read_api.delete(f"/contacts/{contact.id}"),
        read_api.post(f"/contacts/{contact.id}/stage", {"stage": "customer"}),
        read_api.post(f"/contacts/{contact.id}/reveal-phone"),
        read_api.post("/contacts/bulk-upsert", {"rows": [{"phone": "13800001111"}]}),
        read_api.post("/tag-groups", {"name": "兴趣"}),
        read_api.post("/custom-fields", {"label": "会员等级"}),
        read_api.post("/channels", {"name": "门店"}),
    ]

    assert [r.status_code for r in attempts] == [403] * len(attempts)
    assert {error_of(r)["code"] for r in attempts} == {"permission_denied"}
    assert list(Contact.objects.values_list("name", "city")) == [("张三", "")]
    assert read_api.get(f"/contacts/{contact.id}").status_code == 200


def test_session_auth_reads_and_enforces_csrf_on_writes(admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin.user)

    assert client.get("/api/v1/contacts").status_code == 200
    refused = client.post("/api/v1/contacts", json.dumps({"name": "张三"}), content_type="application/json")
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "csrf_failed"
    assert not Contact.objects.exists()

    client.cookies["csrftoken"] = CSRF_SECRET
    created = client.post(
        "/api/v1/contacts",
        json.dumps({"name": "张三"}),
        content_type="application/json",
        headers={"X-CSRFToken": CSRF_SECRET},
    )
    assert created.status_code == 201
    # A session member creating a contact owns it.
    assert created.json()["owner"] == {"id": str(admin.id), "display_name": "管理员"}


def test_session_of_a_user_without_membership_is_401(db):
    client = Client()
    client.force_login(UserFactory(username="drifter"))

    response = client.get("/api/v1/contacts")

    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def test_session_scope_follows_the_role(make_member):
    rep = make_member(Role.SALES, display_name="小王")
    other_rep = make_member(Role.SALES, display_name="小李")
    mine = ContactFactory(name="我的客户", owner=rep)
    theirs = ContactFactory(name="别人的客户", owner=other_rep)
    client = Client()
    client.force_login(rep.user)

    listed = client.get("/api/v1/contacts").json()["items"]

    assert [c["name"] for c in listed] == ["我的客户"]
    assert client.get(f"/api/v1/contacts/{mine.id}").status_code == 200
    assert client.get(f"/api/v1/contacts/{theirs.id}").status_code == 404


def test_other_workspace_key_sees_nothing_here(workspace, other_workspace):
    ContactFactory(name="张三")

    response = other_workspace_client(other_workspace).get("/contacts")

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None, "has_more": False}


# --- the error contract -------------------------------------------------------------------------


def test_unknown_path_is_json_404(api):
    response = api.get("/no-such-thing")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_method_is_json_405(api, workspace):
    contact = ContactFactory()

    response = api.put(f"/contacts/{contact.id}", {})

    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert response["Allow"] == "DELETE, GET, PATCH"


def test_malformed_json_is_400(api):
    response = api.client.post(
        "/api/v1/contacts", "{not json", content_type="application/json", headers=api.headers
    )

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "malformed_json"
    # The API speaks the product's default language (Simplified Chinese) unless the caller chose English.
    assert error["message"].startswith("请求体不是有效的 JSON：")


def test_body_over_the_limit_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000

    response = api.post("/contacts/bulk-upsert", {"rows": [{"name": "x" * 50}] * 100})

    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert not Contact.objects.exists()


def test_schema_errors_are_422_with_field_paths(api):
    body = api.post("/contacts", {"birthday": "soon", "identities": [{"type": "fax", "value": "1"}]})
    rows = api.post("/contacts/bulk-upsert", {"rows": [{"phone": "13800001111"}, "not an object"]})
    query = api.get("/contacts", {"tag": "nope", "limit": 0, "stage": "alien"})

    assert [r.status_code for r in (body, rows, query)] == [422, 422, 422]
    assert set(error_of(body)["fields"]) == {"birthday", "identities.0.type"}
    assert set(error_of(rows)["fields"]) == {"rows.1"}
    assert set(error_of(query)["fields"]) == {"tag.0", "limit", "stage.0"}
    assert error_of(query)["code"] == "invalid"


def test_missing_body_is_422(api):
    response = api.client.post(
        "/api/v1/contacts/bulk-upsert", "", content_type="application/json", headers=api.headers
    )

    assert response.status_code == 422
    assert error_of(response)["fields"] == {"body": "Field required"}


def test_unexpected_errors_are_json_500(api, monkeypatch):
    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("siyu.contacts.api.tag_list", broken)

    response = api.get("/tags")

    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "server_error"
    assert "boom" not in error["message"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("x"), 404),
        (PermissionDenied("x"), 403),
        (Conflict("x", code="identity_taken"), 409),
        (PayloadTooLarge("x"), 413),
        (ValidationError("x"), 422),
        (DomainError("x"), 400),
    ],
)
def test_domain_errors_map_to_one_status_each(error, status):
    assert domain_status(error) == status


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("body", "payload", "rows", 3, "phone"), "rows.3.phone"),
        (("body", "payload"), "body"),
        (("query", "limit"), "limit"),
        (("path", "contact_id"), "contact_id"),
    ],
)
def test_field_paths(loc, path):
    assert field_path(loc) == path
