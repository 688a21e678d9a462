"""OpenAPI pieces for the judge page's fields and routes (merged into openapi.spec)."""

from __future__ import annotations

from typing import Any


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_POOL = {"name": "pool", "in": "path", "required": True, "schema": {"type": "string"}}

IMAGE_PROPERTIES: dict[str, Any] = {
    "thumb_url": {"type": "string"}, "tile_size": {"type": "integer"},
    "tile_levels": {"type": "integer", "description": "pyramid levels served as tiles (0: none)"},
    "tile_url": {"type": "string", "description": "template with {level}, {col}, {row}"}}

ASSIGNMENT_PROPERTIES: dict[str, Any] = {
    "accepts": {"type": "array", "items": {"type": "string"},
                "description": "optional judgment fields this server takes"},
    "skip_url": {"type": "string"}, "renew_url": {"type": "string"}}

JUDGMENT_PROPERTIES: dict[str, Any] = {
    "unsure": {"type": "boolean", "default": False},
    "pins": {"type": "array", "maxItems": 50, "items": {
        "type": "object", "required": ["side", "tag", "x", "y"], "additionalProperties": False,
        "properties": {"side": {"enum": ["left", "right"]},
                       "tag": {"type": "string", "description": "also listed in tags.<side>"},
                       "x": {"type": "number", "minimum": 0, "maximum": 1},
                       "y": {"type": "number", "minimum": 0, "maximum": 1}}}}}

PATHS: dict[str, Any] = {
    "/api/v1/pools/{pool}/assignments/ahead": {"parameters": [_POOL], "post": {
        "summary": "reserve the pair after the open one (the judge page shows it the moment the open one "
                   "is answered); the next POST .../assignments opens it, its time starting then",
        "responses": {"201": {"description": "the queued assignment (same fields as an issued one)",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Assignment"}}}},
                      "204": {"description": "no open pair to queue behind, or nothing else left"},
                      "409": _error("pool closed")}}},
    "/api/v1/assignments/{id}/skip": {"parameters": _ID, "post": {
        "summary": "skip a pair with a reason; flags the item for admins; not a judgment",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["reason"], "additionalProperties": False,
            "properties": {"reason": {"type": "string", "maxLength": 500}}}}}},
        "responses": {"201": {"description": "recorded"}, "403": _error("issued to another expert"),
                      "409": _error("already judged or skipped"), "422": _error("bad reason")}}},
    "/api/v1/assignments/{id}/renew": {"parameters": _ID, "post": {
        "summary": "extend an unanswered (perhaps expired) pair while it is still valid",
        "responses": {"200": {"description": "new expires_at"}, "409": _error("already judged or skipped"),
                      "410": _error("pool closed, or another pair was issued since it expired")}}},
    "/api/v1/pools/{pool}/my-progress": {"parameters": [
        _POOL, {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"},
                "description": "start of the expert's day (default: UTC midnight)"}],
        "get": {"summary": "the calling expert's judgments and time today, and pool progress",
                "responses": {"200": {"description": "today_judgments, today_seconds, pool_judged_by_you, "
                                                     "pool_pairs_for_you, pool_judgments"}}}},
    "/api/v1/pools/{pool}/skips": {"parameters": [
        _POOL, {"name": "format", "in": "query", "schema": {"enum": ["json", "jsonl", "csv"], "default": "json"}}],
        "get": {"summary": "skipped pairs with reasons and the items they flag (researcher, admin)",
                "responses": {"200": {"description": "json: flagged_items and skips; csv/jsonl: one row per skip"}}}},
}
