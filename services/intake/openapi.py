"""The intake's OpenAPI 3.1 document, built from the same msgspec Structs that decode requests.

Generating the request schemas from the decoders means the document cannot drift from what
the service actually accepts.
"""

from __future__ import annotations

from typing import Any

import msgspec

from services.intake.channels import CHANNELS, MAX_BATCH, RFC822_MEDIA_TYPE
from services.intake.channels.schemas import REQUEST_TYPES

_REF = "#/components/schemas/{name}"
_PROBLEM = "application/problem+json"
_ERRORS = {
    "400": "Unreadable request or body: malformed HTTP, malformed or too deeply nested JSON, "
    "invalid UTF-8, unreadable MIME, a gzip or deflate body that does not decode.",
    "401": "No bearer token, or an unknown one.",
    "403": "The token may not post to this channel.",
    "408": "The body stopped arriving (30 s without the rest of it).",
    "413": "The body (decoded, when gzip or deflate) is over the size limit, or the message it "
    "makes is too large for Kafka.",
    "415": "Content type not accepted on this endpoint, or a content coding other than gzip "
    "and deflate.",
    "417": "An `Expect` other than `100-continue`.",
    "422": "A field is missing, of the wrong type or out of bounds; `field` names it.",
    "503": "Kafka did not acknowledge in time; nothing was accepted. Retry after `Retry-After`.",
}
_SUMMARIES = {
    "phone": "A hotline call record (IVR selection, transcript, voicemail).",
    "email": "An email, as parsed JSON or as the raw RFC 822 message.",
    "chat": "One customer chat message.",
    "social": "A social-media post or private message.",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(name=name)}


def _problem_responses() -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, description in _ERRORS.items():
        response: dict[str, Any] = {
            "description": description,
            "content": {_PROBLEM: {"schema": _ref("Problem")}},
        }
        if status == "503":
            response["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}}
        responses[status] = response
    return responses


def _fixed_schemas() -> dict[str, Any]:
    return {
        "Accepted": {
            "type": "object",
            "required": ["message_id"],
            "properties": {
                "message_id": {
                    "type": "string",
                    "format": "uuid",
                    "description": "Same channel and external id → same message_id.",
                }
            },
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details; `field` names the offending field.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "field": {"type": "string", "examples": ["$.from", "body", "header Message-ID"]},
            },
        },
        "BatchResult": {
            "type": "object",
            "required": ["accepted", "rejected", "results"],
            "properties": {
                "accepted": {"type": "integer"},
                "rejected": {"type": "integer"},
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["index", "status"],
                        "properties": {
                            "index": {"type": "integer"},
                            "status": {"type": "integer", "enum": [202, 422]},
                            "message_id": {"type": "string", "format": "uuid"},
                            "field": {"type": "string"},
                            "detail": {"type": "string"},
                        },
                    },
                },
            },
        },
    }


def _post(channel: str, schema_name: str) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": _ref(schema_name)}}
    if channel == "email":
        content[RFC822_MEDIA_TYPE] = {
            "schema": {"type": "string", "contentMediaType": RFC822_MEDIA_TYPE},
        }
    return {
        "post": {
            "operationId": f"post_{channel}",
            "tags": ["inbound"],
            "summary": _SUMMARIES[channel],
            "requestBody": {"required": True, "content": content},
            "responses": {
                "202": {
                    "description": "Acknowledged by Kafka (acks=all).",
                    "content": {"application/json": {"schema": _ref("Accepted")}},
                },
                **_problem_responses(),
            },
        }
    }


def _post_batch(channel: str, schema_name: str) -> dict[str, Any]:
    batch = {
        "type": "object",
        "required": ["messages"],
        "properties": {
            "messages": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH,
                "items": _ref(schema_name),
            }
        },
    }
    return {
        "post": {
            "operationId": f"post_{channel}_batch",
            "tags": ["inbound"],
            "summary": f"Up to {MAX_BATCH} {channel} messages; one result per item.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": batch}}},
            "responses": {
                "200": {
                    "description": "Valid items were acknowledged by Kafka; invalid ones say why.",
                    "content": {"application/json": {"schema": _ref("BatchResult")}},
                },
                **_problem_responses(),
            },
        }
    }


def _get(operation_id: str, description: str, media_type: str) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "tags": ["operations"],
            "security": [],
            "responses": {"200": {"description": description, "content": {media_type: {}}}},
        }
    }


def _ecma_patterns(node: object) -> None:
    """The validators' ``\\Z`` (end of text, see shared.payload) is ECMA-262's ``$``."""
    if isinstance(node, dict):
        pattern = node.get("pattern")
        if isinstance(pattern, str) and pattern.endswith("\\Z"):
            node["pattern"] = pattern[:-2] + "$"
        for value in node.values():
            _ecma_patterns(value)
    elif isinstance(node, list):
        for value in node:
            _ecma_patterns(value)


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 for the intake: four channel endpoints, their batches, health and metrics."""
    types = [REQUEST_TYPES[channel] for channel in CHANNELS]
    _, components = msgspec.json.schema_components(types, ref_template=_REF)
    _ecma_patterns(components)
    paths: dict[str, Any] = {}
    for channel, request_type in zip(CHANNELS, types, strict=True):
        paths[f"/v1/inbound/{channel}"] = _post(channel, request_type.__name__)
    for channel, request_type in zip(CHANNELS, types, strict=True):
        paths[f"/v1/inbound/{channel}/batch"] = _post_batch(channel, request_type.__name__)
    paths["/healthz"] = _get("healthz", "The process is alive.", "application/json")
    readyz = _get("readyz", "Kafka is reachable.", "application/json")
    readyz["get"]["responses"]["503"] = {"description": "Kafka is not reachable."}
    paths["/readyz"] = readyz
    paths["/metrics"] = _get("metrics", "Prometheus text exposition.", "text/plain")
    paths["/v1/openapi.json"] = _get("openapi", "This document.", "application/json")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard intake",
            "version": "1",
            "description": "Integrations post inbound customer messages; each is normalized "
            "onto Kafka `inbound.messages.v1` before the 202.",
        },
        # Relative: the document describes whichever host and port served it.
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {**components, **_fixed_schemas()},
        },
    }
