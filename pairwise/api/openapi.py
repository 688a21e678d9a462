"""The OpenAPI 3.1 description of /api/v1/ (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from ..vocabulary import TAGS


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _pool_param() -> dict[str, Any]:
    return {"name": "pool", "in": "path", "required": True, "schema": {"type": "string"}}


def spec() -> dict[str, Any]:
    image = {"type": "object", "properties": {
        "url": {"type": "string"}, "preview_url": {"type": "string"},
        "width": {"type": "integer"}, "height": {"type": "integer"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "pairwise", "version": "1",
                 "description": "Expert pairwise judgments of AI image edits and Bradley-Terry leaderboards. "
                                "Authenticate with the browser session (plus an X-CSRFToken header) or "
                                "'Authorization: Bearer <token>' (`pairwise tokens create EMAIL`). "
                                "Errors are {\"error\": \"one-line reason\"}."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "session": {"type": "apiKey", "in": "cookie", "name": "session"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"],
                          "properties": {"error": {"type": "string"}}},
                "PoolSettings": {"type": "object", "additionalProperties": False, "properties": {
                    "rationale_min_chars": {"type": "integer", "minimum": 0, "maximum": 2000, "default": 20},
                    "scheduler": {"enum": ["active", "uniform"], "default": "active"},
                    "overlap_share": {"type": "number", "minimum": 0, "maximum": 1},
                    "gold_share": {"type": "number", "minimum": 0, "maximum": 1},
                    "open": {"type": "boolean"},
                    "categories": {"type": ["array", "null"], "items": {"type": "string"}}}},
                "Pool": {"type": "object", "properties": {
                    "name": {"type": "string"}, "settings": {"$ref": "#/components/schemas/PoolSettings"},
                    "categories": {"type": "array", "items": {"type": "string"}},
                    "items": {"type": "integer"}, "models": {"type": "integer"},
                    "judgments": {"type": "integer"}}},
                "Assignment": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "pool": {"type": "string"},
                    "category": {"type": "string"}, "instruction": {"type": "string"},
                    "source": image, "left": image, "right": image,
                    "expires_at": {"type": "string", "format": "date-time"},
                    "rationale_min_chars": {"type": "integer"},
                    "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                    "submit_url": {"type": "string"}}},
                "Judgment": {"type": "object", "required": ["choice", "rationale"],
                             "additionalProperties": False, "properties": {
                    "choice": {"enum": ["left", "right", "tie", "both_bad"]},
                    "rationale": {"type": "string", "description": "at least the pool's rationale_min_chars, "
                                                                   "not counting surrounding whitespace"},
                    "tags": {"type": "object", "properties": {
                        side: {"type": "array", "items": {"enum": list(TAGS)}} for side in ("left", "right")}}}},
            }},
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/api/v1/me": {"get": {"summary": "who the caller is", "responses": {"200": {"description": "the account"}}}},
            "/api/v1/pools": {
                "get": {"summary": "list pools", "responses": {"200": {"description": "pools"}}},
                "post": {"summary": "create a pool (admin)",
                         "requestBody": {"required": True, "content": {"application/json": {"schema": {
                             "type": "object", "required": ["name"], "properties": {
                                 "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,99}$"},
                                 "settings": {"$ref": "#/components/schemas/PoolSettings"}}}}}},
                         "responses": {"201": {"description": "created", "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/Pool"}}}},
                             "409": _error("a pool of that name exists"), "422": _error("bad name or settings")}}},
            "/api/v1/pools/{pool}": {
                "parameters": [_pool_param()],
                "get": {"summary": "one pool", "responses": {"200": {"description": "the pool"}, "404": _error("no such pool")}},
                "patch": {"summary": "change settings, e.g. open/close (admin)",
                          "responses": {"200": {"description": "the pool"}, "422": _error("bad settings")}}},
            "/api/v1/pools/{pool}/items": {"parameters": [_pool_param()], "post": {
                "summary": "add one item with its source and model outputs (admin); idempotent by id",
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["id", "category", "instruction", "source"],
                    "properties": {"id": {"type": "string"}, "category": {"type": "string"},
                                   "instruction": {"type": "string"},
                                   "source": {"type": "string", "format": "binary"}},
                    "patternProperties": {r"^outputs\[.+\]$": {"type": "string", "format": "binary"}}}}}},
                "responses": {"201": {"description": "item created"},
                              "200": {"description": "item already present (new model outputs added, if any)"},
                              "409": _error("same id, different content"),
                              "413": _error("upload too large"),
                              "422": _error("bad field or image")}}},
            "/api/v1/pools/{pool}/assignments": {"parameters": [_pool_param()], "post": {
                "summary": "the next pair for the calling expert (the open one, if any)",
                "responses": {"201": {"description": "an assignment", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Assignment"}}}},
                    "204": {"description": "nothing left to judge"},
                    "409": _error("pool closed")}}},
            "/api/v1/assignments/{id}/judgment": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "post": {"summary": "answer an assignment",
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/Judgment"}}}},
                         "responses": {"201": {"description": "recorded"},
                                       "403": _error("issued to another expert"),
                                       "404": _error("no such assignment"),
                                       "409": _error("already judged"),
                                       "410": _error("expired"),
                                       "422": _error("bad body")}}},
            "/api/v1/pools/{pool}/leaderboard": {"parameters": [
                _pool_param(),
                {"name": "category", "in": "query", "schema": {"type": "string", "default": "all"}},
                {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"], "default": "json"}},
                {"name": "ties", "in": "query", "schema": {"enum": ["half", "davidson", "drop"], "default": "half"}},
                {"name": "position", "in": "query", "schema": {"type": "boolean", "default": False}},
                {"name": "bootstrap", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 10000,
                                                                 "description": "0: closed-form intervals; default 1000"}}],
                "get": {"summary": "Bradley-Terry leaderboard (researcher, admin)",
                        "responses": {"200": {"description": "rank, model, score, ci_low, ci_high, wins, losses, ties, judgments, ..."},
                                      "422": _error("bad parameter")}}},
            "/api/v1/pools/{pool}/judgments": {"parameters": [
                _pool_param(), {"name": "format", "in": "query", "schema": {"enum": ["jsonl", "csv", "pwcmp"], "default": "jsonl"}}],
                "get": {"summary": "raw judgments, streamed (researcher, admin)",
                        "responses": {"200": {"description": "one row per judgment"}}}},
        },
    }
