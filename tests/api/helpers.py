"""An API client for tests: JSON in and out, authenticated by an API key made through the real service."""

import json
from typing import Any

from django.conf import settings
from django.test import Client

from siyu.core.tenancy import workspace_scope
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import Workspace
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from siyu.tenancy.services import api_key_create
from tests.factories import MemberFactory

PREFIX = "/api/v1"


class ApiClient:
    def __init__(self, raw_key: str | None = None, *, client: Client | None = None, header: str = "bearer"):
        self.client = client or Client()
        self.headers: dict[str, str] = {}
        if raw_key is not None:
            if header == "bearer":
                self.headers["Authorization"] = f"Bearer {raw_key}"
            else:
                self.headers["X-API-Key"] = raw_key

    def _url(self, path: str) -> str:
        return path if path.startswith(PREFIX) else f"{PREFIX}{path}"

    def get(self, path: str, params: Any = None) -> Any:
        return self.client.get(self._url(path), params or {}, headers=self.headers)

    def post(self, path: str, data: Any = None) -> Any:
        return self._send("post", path, data)

    def patch(self, path: str, data: Any = None) -> Any:
        return self._send("patch", path, data)

    def put(self, path: str, data: Any = None) -> Any:
        return self._send("put", path, data)

    def delete(self, path: str) -> Any:
        return self.client.delete(self._url(path), headers=self.headers)

    def _send(self, method: str, path: str, data: Any) -> Any:
        body = json.dumps(data if data is not None else {})
        send = getattr(self.client, method)
        return send(self._url(path), body, content_type="application/json", headers=self.headers)


def in_english(api: ApiClient) -> ApiClient:
    """Messages in the English source text (the product's default language is zh-hans)."""
    api.client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return api


def make_key(actor: Actor, scopes: list[str], name: str = "integration") -> str:
    _api_key, raw = api_key_create(actor=actor, name=name, scopes=scopes)
    return raw


def other_workspace_client(workspace: Workspace) -> ApiClient:
    """A read+write key of another workspace, whose owner sees everything there."""
    with workspace_scope(workspace.id):
        owner = MemberFactory(role=Role.OWNER, display_name="别家老板")
        raw = make_key(actor_for_member(member=owner), ["read", "write"], name="other")
    return ApiClient(raw)


def error_of(response: Any) -> dict[str, Any]:
    """The error body, checking its shape on the way."""
    assert response["Content-Type"].startswith("application/json"), response.content
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error
