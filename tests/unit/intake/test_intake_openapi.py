"""The OpenAPI document: valid-looking 3.1 JSON whose request schemas come from the decoders."""

from __future__ import annotations

import json
import re
from typing import Any

from services.intake.openapi import openapi_document


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def test_document_is_json_with_the_channel_endpoints() -> None:
    document = json.loads(json.dumps(openapi_document()))
    assert document["openapi"].startswith("3.1")
    for channel in ("phone", "email", "chat", "social"):
        operation = document["paths"][f"/v1/inbound/{channel}"]["post"]
        assert set(operation["responses"]) == {
            "202",
            "400",
            "401",
            "403",
            "408",
            "413",
            "415",
            "417",
            "422",
            "503",
        }
        assert "Retry-After" in operation["responses"]["503"]["headers"]
        assert "application/problem+json" in operation["responses"]["422"]["content"]
        assert f"/v1/inbound/{channel}/batch" in document["paths"]
    for path in ("/healthz", "/readyz", "/metrics", "/v1/openapi.json"):
        assert document["paths"][path]["get"]["security"] == []
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_reference_resolves() -> None:
    document = openapi_document()
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        match = re.fullmatch(r"#/components/schemas/(\w+)", ref)
        assert match and match.group(1) in schemas, ref


def test_request_schemas_match_the_spec_fields() -> None:
    schemas = openapi_document()["components"]["schemas"]
    assert set(schemas["PhoneCall"]["required"]) == {"call_id", "from", "started_at"}
    assert set(schemas["EmailJson"]["required"]) == {"message_id", "from"}
    assert set(schemas["ChatMessage"]["required"]) == {"session_id", "text"}
    assert set(schemas["SocialPost"]["required"]) == {
        "platform",
        "post_id",
        "author",
        "text",
        "visibility",
    }
    assert schemas["SocialPost"]["properties"]["visibility"]["enum"] == ["private", "public"]
    email = openapi_document()["paths"]["/v1/inbound/email"]["post"]["requestBody"]["content"]
    assert set(email) == {"application/json", "message/rfc822"}
    batch = openapi_document()["paths"]["/v1/inbound/chat/batch"]["post"]["requestBody"]
    assert (
        batch["content"]["application/json"]["schema"]["properties"]["messages"]["maxItems"] == 500
    )
