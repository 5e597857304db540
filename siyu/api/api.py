"""The one NinjaAPI object, mounted at /api/v1/. Each domain contributes its routers from <domain>/api.py."""

from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI, Swagger
from ninja.errors import ValidationError, ValidationErrorContext
from ninja.openapi.schema import OpenAPISchema
from ninja.parser import Parser
from ninja.types import DictStrAny

from siyu.analytics.api import analytics_router
from siyu.api.errors import COMMON_ERROR_STATUSES, ErrorOut, install_error_handlers
from siyu.contacts.api import (
    channels_router,
    contacts_router,
    custom_fields_router,
    tag_groups_router,
    tags_router,
)
from siyu.core.text import NUL_IN_JSON, SURROGATE_IN_JSON, storable_text
from siyu.segments.api import rfm_router, segments_router
from siyu.tenancy.api import API_AUTH, members_router, teams_router
from siyu.tracking.api import orders_router

DESCRIPTION = """\
The Siyu (私域) HTTP API.

**Auth.** Send an API key (`Authorization: Bearer sy_…` or `X-API-Key: sy_…`); keys with the `read`
scope cannot write. The web UI calls the same API with its session cookie and an `X-CSRFToken` header.

**Errors** are JSON: `{"error": {"code": "...", "message": "...", "fields": {"rows.3.phone": "..."}}}`.

**Lists** are cursor-paginated: pass the `next_cursor` of a page as `cursor` to get the next one.

**Merged contacts.** Reading a contact id that was merged away answers 200 with the surviving contact
(its `id` is the survivor's; `Content-Location` points to it). Writes on such an id act on the survivor,
except DELETE, which answers 404 so a stale id can never delete the survivor.
"""

_WRITE_METHODS = {"post", "put", "patch"}


def _error_response(description: str) -> DictStrAny:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }


class StorableTextParser(Parser):
    """JSON bodies with NUL characters and lone surrogates replaced by U+FFFD (`siyu.core.text`), before
    any schema sees them."""

    def parse_body(self, request: HttpRequest) -> DictStrAny:
        body = super().parse_body(request)
        if NUL_IN_JSON in request.body or SURROGATE_IN_JSON.search(request.body):
            body = storable_text(body)
        return body


class SiyuAPI(NinjaAPI):
    def validation_error_from_error_contexts(
        self, error_contexts: list[ValidationErrorContext[Any]]
    ) -> ValidationError:
        """Like ninja's, but maps nested locations of flattened query params too (`tag.0`, not `query.tag.0`)."""
        errors: list[DictStrAny] = []
        for context in error_contexts:
            model = context.model
            reverse: dict[tuple[Any, ...], tuple[Any, ...]] = model.__ninja_flatten_map_reverse__
            for error in context.pydantic_validation_error.errors(include_url=False):
                loc = tuple(error["loc"])
                for size in range(len(loc), 0, -1):
                    if loc[:size] in reverse:
                        loc = reverse[loc[:size]] + loc[size:]
                        break
                errors.append(
                    {"loc": (model.__ninja_param_source__, *loc), "msg": error["msg"], "type": error["type"]}
                )
        return ValidationError(errors)

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: DictStrAny | None = None
    ) -> OpenAPISchema:
        """Adds the shared error body and the error statuses every operation can answer."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        components: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(error_schema.pop("$defs", {}))
        components["ErrorOut"] = error_schema
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for status, description in COMMON_ERROR_STATUSES.items():
                    responses.setdefault(status, _error_response(description))
                if method in _WRITE_METHODS:
                    responses.setdefault("409", _error_response("Conflicts with existing data."))
                    responses.setdefault("413", _error_response("The request body or batch is too large."))
        return schema


api = SiyuAPI(
    title="Siyu API",
    version="1.0.0",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=API_AUTH,
    parser=StorableTextParser(),
    # The docs page uses ninja's bundled Swagger UI files (no CDN); the online validator badge is off.
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": False}),
)
install_error_handlers(api)
api.add_router("/contacts", contacts_router)
api.add_router("/tag-groups", tag_groups_router)
api.add_router("/tags", tags_router)
api.add_router("/custom-fields", custom_fields_router)
api.add_router("/channels", channels_router)
api.add_router("/members", members_router)
api.add_router("/teams", teams_router)
api.add_router("/segments", segments_router)
api.add_router("/rfm", rfm_router)
api.add_router("/orders", orders_router)
api.add_router("/analytics", analytics_router)
