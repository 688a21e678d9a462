"""The OpenAPI 3.1 description of /api/v1/ (served at /api/v1/openapi.json).

Written by hand, and proved by tests: ``tests/test_openapi.py`` checks that
every API route and method is described (and nothing else), and runs
schemathesis against a live server, so a status code, body or parameter that
drifts from this document fails the suite.
"""

from __future__ import annotations

from typing import Any

from ..manifest import CATEGORY, ITEM_ID, MODEL_NAME, POOL_NAME
from ..vocabulary import TAGS
from . import judge_openapi

_JSON = "application/json"
_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}  # 32-bit INTEGER ids


# Text fields refuse control characters other than tab and line breaks (manifest.CONTROL).
_CONTROL = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f"
_TEXT = f"[^{_CONTROL}]"
# A tag or criterion label (rubric.MAX_LABEL): printable, not blank.
_LABEL = {"type": "string", "maxLength": 120, "pattern": "^[^\\x00-\\x1f]*[^\\s\\x00-\\x1f][^\\x00-\\x1f]*$"}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref("Error")}}}


def _ok(description: str, schema: dict[str, Any] | None = None, media: str = _JSON,
        **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, **extra}
    if schema is not None:
        out["content"] = {media: {"schema": schema}}
    return out


def _errors(*codes: int) -> dict[str, Any]:
    """The error answers an operation can give, each ``{"error": "one line"}``."""
    text = {400: "malformed request (e.g. a CSRF failure for a browser session)",
            401: "not logged in, or an unknown or revoked token",
            403: "the caller's role may not do this",
            404: "no such pool, model, item or resource",
            409: "conflicts with what is stored",
            410: "gone (an expired assignment)",
            413: "request body too large",
            422: "a bad field, parameter or image; the message names it"}
    # 400: any request can be malformed (a NUL in the URL, a CSRF failure for a session)
    return {str(code): _error(text[code]) for code in (400, 401, *codes)}


def _path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    out = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        out["description"] = description
    return out


_POOL = _path("pool", {"type": "string", "pattern": POOL_NAME.pattern})
_MODEL = _path("model", {"type": "string", "pattern": MODEL_NAME.pattern})


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {_JSON: {"schema": schema}}}


def _schemas() -> dict[str, Any]:
    image = {"type": "object", "required": ["url", "preview_url", "width", "height"], "properties": {
        "url": {"type": "string"}, "preview_url": {"type": "string"},
        "width": {"type": "integer"}, "height": {"type": "integer"}, **judge_openapi.IMAGE_PROPERTIES}}
    categories = {"type": ["array", "null"], "minItems": 1,
                  "items": {"type": "string", "pattern": CATEGORY.pattern, "not": {"const": "all"}}}
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        "PoolSettings": {"type": "object", "additionalProperties": False, "properties": {
            "rationale_min_chars": {"type": "integer", "minimum": 0, "maximum": 2000, "default": 20},
            "scheduler": {"enum": ["active", "uniform"], "default": "active"},
            "overlap_share": {"type": "number", "minimum": 0, "maximum": 1},
            "gold_share": {"type": "number", "minimum": 0, "maximum": 1},
            "open": {"type": "boolean"},
            "categories": categories,
            "resample_outputs": {"type": "boolean", "default": False,
                                 "description": "resample outputs to their source's size on import"},
            "tags": {"description": "the pool's artifact vocabulary: a list of slugs or {slug: label}; "
                                    "null for the built-in list",
                     "oneOf": [{"type": "array", "minItems": 1, "maxItems": 60,
                                "items": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$",
                                          "not": {"const": "unacceptable"}}},
                               {"type": "object", "minProperties": 1, "maxProperties": 60,
                                "propertyNames": {"pattern": "^[a-z0-9][a-z0-9_-]{0,63}$",
                                                  "not": {"const": "unacceptable"}},
                                "additionalProperties": _LABEL},
                               {"type": "null"}]},
            "criteria": {"type": ["array", "null"], "description": "rubric criteria answered per pair",
                         "items": {"oneOf": [{"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,39}$"},
                                             _ref("Criterion")]}}}},
        "Criterion": {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {
            "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,39}$"},
            "label": _LABEL,
            "required": {"type": "boolean", "default": False}}},
        "StoredJudgment": {"type": "object", "properties": {
            "id": {"type": "integer"}, "assignment": {"type": "integer"},
            "choice": {"enum": ["left", "right", "tie", "both_bad"]}, "rationale": {"type": "string"},
            "tags": {"type": "object"}, "created_at": {"type": "string"}}},
        "AuditEvent": {"type": "object", "properties": {
            "id": {"type": "integer"}, "at": {"type": "string"},
            "actor": {"type": "string", "description": "an account's email, or cli:<os user>"},
            "action": {"type": "string"}, "target": {"type": "string"},
            "details": {"type": "object"}}},
        "Pool": {"type": "object", "required": ["name", "settings", "categories", "items", "models", "judgments"],
                 "properties": {
                     "name": {"type": "string"}, "settings": {"type": "object"},
                     "categories": {"type": "array", "items": {"type": "string"}},
                     "items": {"type": "integer"}, "models": {"type": "integer"},
                     "judgments": {"type": "integer"}}},
        "Assignment": {"type": "object", "required": ["id", "pool", "category", "instruction", "source", "left",
                                                      "right", "expires_at", "submit_url"], "properties": {
            "id": {"type": "integer"}, "pool": {"type": "string"},
            "category": {"type": "string"}, "instruction": {"type": "string"},
            "source": image, "left": image, "right": image,
            "expires_at": {"type": "string"},
            "rationale_min_chars": {"type": "integer"},
            "tags": {"type": "object", "additionalProperties": {"type": "string"},
                     "description": "the pool's tag vocabulary, slug -> label"},
            "criteria": {"type": "array", "items": _ref("Criterion")},
            "submit_url": {"type": "string"}, **judge_openapi.ASSIGNMENT_PROPERTIES}},
        "Judgment": {"type": "object", "required": ["choice", "rationale"], "additionalProperties": False,
                     "properties": {
                         "choice": {"enum": ["left", "right", "tie", "both_bad"]},
                         "rationale": {"type": "string", "minLength": 1, "maxLength": 5000,
                                       "pattern": f"^{_TEXT}*[^\\s{_CONTROL}]{_TEXT}*$",
                                       "description": "at least the pool's rationale_min_chars, not counting "
                                                      "surrounding whitespace"},
                         "tags": {"type": "object", "additionalProperties": False, "properties": {
                             side: {"type": "array", "items": {"type": "string"},
                                    "description": f"tags of the pool's vocabulary (default: {', '.join(TAGS)})"}
                             for side in ("left", "right")}},
                         "unacceptable": {"type": "object", "description": "would not ship; both_bad sets both",
                                          "additionalProperties": False, "properties": {
                                              "left": {"type": "boolean"}, "right": {"type": "boolean"}}},
                         "criteria": {"type": "object",
                                      "description": "the pool's criteria; required ones must be answered",
                                      "additionalProperties": {"enum": ["left", "right", "same"]}},
                         **judge_openapi.JUDGMENT_PROPERTIES}},
        "Item": {"type": "object", "required": ["id", "category", "instruction", "models", "created_at"],
                 "properties": {"id": {"type": "string"}, "category": {"type": "string"},
                                "instruction": {"type": "string"},
                                "models": {"type": "array", "items": {"type": "string"}},
                                "created_at": {"type": "string"}}},
        "ItemsPage": {"type": "object", "required": ["items", "next_after", "next_url"], "properties": {
            "items": {"type": "array", "items": _ref("Item")},
            "next_after": {"type": ["string", "null"], "description": "pass as ?after= for the next page"},
            "next_url": {"type": ["string", "null"]}}},
        "Model": {"type": "object", "required": ["name", "outputs", "retired", "retired_at"], "properties": {
            "name": {"type": "string"}, "outputs": {"type": "integer"}, "retired": {"type": "boolean"},
            "retired_at": {"type": ["string", "null"]}}},
        "Progress": {"type": "object", "required": ["pool", "open", "items", "judgments", "open_assignments",
                                                    "categories"], "properties": {
            "pool": {"type": "string"}, "open": {"type": "boolean"}, "items": {"type": "integer"},
            "judgments": {"type": "integer"}, "open_assignments": {"type": "integer"},
            "categories": {"type": "array", "items": {"type": "object", "required": [
                "category", "items", "judgments", "open_assignments", "pairs"], "properties": {
                "category": {"type": "string"}, "items": {"type": "integer"}, "judgments": {"type": "integer"},
                "open_assignments": {"type": "integer"},
                "pairs": {"type": "array", "items": {"type": "object", "required": ["models", "judgments"],
                                                     "properties": {
                    "models": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
                    "judgments": {"type": "integer"}}}}}}}}},
        "ImportJob": {"type": "object", "required": [
                "id", "pool", "status", "stage", "items_total", "items_done", "images_total", "images_done",
                "message", "error", "created_at", "updated_at", "finished_at", "url"], "properties": {
            "id": {"type": "integer"}, "pool": {"type": "string"},
            "status": {"enum": ["queued", "running", "done", "failed"]},
            "stage": {"enum": ["unpacking", "images", "saving", None],
                      "description": "while running: unpacking the archive, making the images (items_done and "
                                     "images_done move), saving the rows (one transaction); null otherwise"},
            "items_total": {"type": "integer", "minimum": 0}, "items_done": {"type": "integer", "minimum": 0},
            "images_total": {"type": "integer", "minimum": 0,
                             "description": "sources and outputs the manifest names"},
            "images_done": {"type": "integer", "minimum": 0},
            "message": {"type": ["string", "null"], "description": "the summary when done, the reason when failed"},
            "error": {"type": ["string", "null"],
                      "description": "when failed: the one-line reason, naming the file; nothing was imported"},
            "created_at": {"type": "string"},
            "updated_at": {"type": ["string", "null"],
                           "description": "last progress; a running job whose updated_at stops moving for "
                                          "minutes was lost with its server process (nothing imported)"},
            "finished_at": {"type": ["string", "null"]}, "url": {"type": "string"}}},
        "Token": {"type": "object", "required": ["id", "email", "role", "created_at"], "properties": {
            "id": {"type": "integer"}, "email": {"type": "string"}, "role": {"type": "string"},
            "created_at": {"type": "string"},
            "token": {"type": "string", "description": "only in the answer that creates it"}}},
    }


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "pairwise", "version": "1",
                 "description": "Expert pairwise judgments of AI image edits and Bradley-Terry leaderboards. "
                                "Authenticate with the browser session (plus an X-CSRFToken header) or "
                                "'Authorization: Bearer <token>' (`pairwise tokens create EMAIL`). "
                                "Every error is {\"error\": \"one-line reason\"}; a 405 carries Allow."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "session": {"type": "apiKey", "in": "cookie", "name": "session"}},
            "schemas": _schemas()},
        "security": [{"bearer": []}, {"session": []}],
        "paths": _paths(),
    }


def _paths() -> dict[str, Any]:
    pool_link = {"GetPool": {"operationId": "getPool", "parameters": {"pool": "$response.body#/name"}},
                 "ListItems": {"operationId": "listItems", "parameters": {"pool": "$response.body#/name"}},
                 "ListModels": {"operationId": "listModels", "parameters": {"pool": "$response.body#/name"}},
                 "Progress": {"operationId": "poolProgress", "parameters": {"pool": "$response.body#/name"}}}
    return {
        "/api/v1/openapi.json": {"get": {
            "operationId": "openapi", "summary": "this document", "security": [],
            "responses": {"200": _ok("the OpenAPI document", {"type": "object"})}}},
        "/api/v1/me": {"get": {
            "operationId": "me", "summary": "who the caller is",
            "responses": {"200": _ok("the account", {"type": "object", "required": ["email", "role"]}),
                          **_errors()}}},
        "/api/v1/pools": {
            "get": {"operationId": "listPools", "summary": "list pools",
                    "responses": {"200": _ok("pools", {"type": "object", "required": ["pools"], "properties": {
                        "pools": {"type": "array", "items": _ref("Pool")}}}), **_errors()}},
            "post": {"operationId": "createPool", "summary": "create a pool (admin)",
                     "requestBody": _json_body({"type": "object", "required": ["name"],
                                                "additionalProperties": False, "properties": {
                                                    "name": {"type": "string", "pattern": POOL_NAME.pattern},
                                                    "settings": _ref("PoolSettings")}}),
                     "responses": {"201": _ok("created", _ref("Pool"), links=pool_link),
                                   **_errors(400, 403, 409, 413, 422)}}},
        "/api/v1/pools/{pool}": {
            "parameters": [_POOL],
            "get": {"operationId": "getPool", "summary": "one pool",
                    "responses": {"200": _ok("the pool", _ref("Pool")), **_errors(404)}},
            "patch": {"operationId": "updatePool", "summary": "change settings, e.g. open/close (admin)",
                      "requestBody": _json_body({"type": "object", "required": ["settings"],
                                                 "additionalProperties": False,
                                                 "properties": {"settings": _ref("PoolSettings")}}),
                      "responses": {"200": _ok("the pool", _ref("Pool")), **_errors(400, 403, 404, 413, 422)}}},
        "/api/v1/pools/{pool}/items": {
            "parameters": [_POOL],
            "get": {"operationId": "listItems", "summary": "the pool's items by id, keyset-paged (researcher, admin)",
                    "parameters": [_query("after", {"type": "string", "pattern": f"^[^{_CONTROL}]*$"},
                                          "the last id of the previous page"),
                                   _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000,
                                                    "default": 100})],
                    "responses": {"200": _ok("a page of items", _ref("ItemsPage")), **_errors(403, 404, 422)}},
            "post": {
                "operationId": "addItem",
                "summary": "add one item with its source and model outputs (admin); idempotent by id",
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["id", "category", "instruction", "source"],
                    "properties": {"id": {"type": "string", "pattern": ITEM_ID.pattern},
                                   "category": {"type": "string", "pattern": CATEGORY.pattern},
                                   "instruction": {"type": "string", "minLength": 1, "maxLength": 5000},
                                   "source": {"type": "string", "format": "binary",
                                              "contentMediaType": "image/png"}},
                    "patternProperties": {r"^outputs\[.+\]$": {"type": "string", "format": "binary"}}}}}},
                "responses": {"201": _ok("item created", {"type": "object"}),
                              "200": _ok("item already present (new model outputs added, if any)",
                                         {"type": "object"}),
                              **_errors(400, 403, 404, 409, 413, 422)}}},
        "/api/v1/pools/{pool}/models": {
            "parameters": [_POOL],
            "get": {"operationId": "listModels", "summary": "the pool's models (researcher, admin)",
                    "responses": {"200": _ok("models", {"type": "object", "required": ["models"], "properties": {
                        "models": {"type": "array", "items": _ref("Model")}}}), **_errors(403, 404)}}},
        "/api/v1/pools/{pool}/models/{model}": {
            "parameters": [_POOL, _MODEL],
            "patch": {"operationId": "updateModel",
                      "summary": "retire a model (no new pairs; its judgments stay, flagged) or bring it back (admin)",
                      "requestBody": _json_body({"type": "object", "required": ["retired"],
                                                 "additionalProperties": False,
                                                 "properties": {"retired": {"type": "boolean"}}}),
                      "responses": {"200": _ok("the model", _ref("Model")), **_errors(400, 403, 404, 413, 422)}}},
        "/api/v1/pools/{pool}/progress": {
            "parameters": [_POOL],
            "get": {"operationId": "poolProgress",
                    "summary": "per category: items, judgments, per model pair counts, open assignments",
                    "responses": {"200": _ok("progress", _ref("Progress")), **_errors(403, 404)}}},
        "/api/v1/pools/{pool}/imports": {
            "parameters": [_POOL],
            "post": {
                "operationId": "createImport",
                "summary": "bulk import: a manifest and a zip or tar of its files, all or nothing (admin)",
                "description": "The archive and manifest are checked first: a bad one is a 422 naming the member, "
                               "with nothing written. Then the import runs before the answer (201), or, with "
                               "`Prefer: respond-async`, the answer is 202 at once and the job's url reports "
                               "progress until it is done or failed.",
                "parameters": [{"name": "Prefer", "in": "header", "required": False,
                                "schema": {"enum": ["respond-async"]},
                                "description": "answer 202 at once and import in the background"}],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["archive"], "additionalProperties": False, "properties": {
                        "archive": {"type": "string", "format": "binary", "contentMediaType": "application/zip"},
                        "manifest": {"type": "string", "format": "binary",
                                     "description": "manifest.json; or put it at the archive's root"}}}}}},
                "responses": {"201": _ok("imported; the job stays readable at its url", _ref("ImportJob"),
                                         headers={"Location": {"schema": {"type": "string"}}},
                                         links={"GetImport": {"operationId": "getImport",
                                                              "parameters": {"id": "$response.body#/id"}}}),
                              "202": _ok("accepted (Prefer: respond-async): poll the job at its url", _ref("ImportJob"),
                                         headers={"Location": {"schema": {"type": "string"}},
                                                  "Preference-Applied": {"schema": {"type": "string"}}},
                                         links={"GetImport": {"operationId": "getImport",
                                                              "parameters": {"id": "$response.body#/id"}}}),
                              **_errors(400, 403, 404, 413, 422)}}},
        "/api/v1/imports/{id}": {
            "parameters": [_path("id", _ID)],
            "get": {"operationId": "getImport",
                    "summary": "a bulk import's state and progress: items and images done of their totals (admin)",
                    "responses": {"200": _ok("the job", _ref("ImportJob")), **_errors(403, 404)}}},
        "/api/v1/tokens": {
            "get": {"operationId": "listTokens", "summary": "API tokens (admin); never the tokens themselves",
                    "parameters": [_query("email", {"type": "string"}, "only this account's")],
                    "responses": {"200": _ok("tokens", {"type": "object", "required": ["tokens"], "properties": {
                        "tokens": {"type": "array", "items": _ref("Token")}}}), **_errors(403, 404)}},
            "post": {"operationId": "createToken", "summary": "a new token for an account, shown once (admin)",
                     "requestBody": _json_body({"type": "object", "required": ["email"],
                                                "additionalProperties": False,
                                                "properties": {"email": {"type": "string",
                                                                         "pattern": r"\S"}}}),
                     "responses": {"201": _ok("the token", _ref("Token")), **_errors(400, 403, 404, 413, 422)}}},
        "/api/v1/tokens/{id}": {
            "parameters": [_path("id", _ID)],
            "delete": {"operationId": "revokeToken", "summary": "revoke a token (admin)",
                       "responses": {"204": _ok("revoked"), **_errors(400, 403, 404)}}},
        "/api/v1/pools/{pool}/assignments": {
            "parameters": [_POOL],
            "post": {"operationId": "nextAssignment",
                     "summary": "the next pair for the calling expert (the open one, if any)",
                     "responses": {"201": _ok("an assignment", _ref("Assignment"), links={
                         "SubmitJudgment": {"operationId": "submitJudgment",
                                            "parameters": {"id": "$response.body#/id"}}}),
                                   "204": _ok("nothing left to judge"),
                                   **_errors(400, 403, 404, 409)}}},
        "/api/v1/assignments/{id}/judgment": {
            "parameters": [_path("id", _ID)],
            "post": {"operationId": "submitJudgment", "summary": "answer an assignment (the expert who holds it); safe to retry",
                     "description": "A retry whose first response was lost is recognised: the same body "
                                    "for an assignment the caller already judged answers 200 with the stored "
                                    "judgment; with an Idempotency-Key header the key is stored with the "
                                    "judgment, and reusing it for another body or assignment is a 422.",
                     "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                     "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"}}],
                     "requestBody": _json_body(_ref("Judgment")),
                     "responses": {"201": _ok("recorded", _ref("StoredJudgment")),
                                   "200": _ok("a retry: this judgment was already stored", _ref("StoredJudgment")),
                                   **_errors(400, 403, 404, 409, 410, 413, 422)}}},
        "/api/v1/pools/{pool}/leaderboard": {
            "parameters": [
                _POOL,
                _query("category", {"type": "string", "default": "all"}),
                _query("format", {"enum": ["json", "csv"], "default": "json"}),
                _query("ties", {"enum": ["half", "davidson", "drop"], "default": "half"}),
                _query("position", {"type": "boolean", "default": False}),
                _query("bootstrap", {"enum": [0, 100, 200, 500, 1000, 2000], "default": 0},
                       "0: closed-form intervals (the default everywhere); else bootstrap rounds"),
                _query("style", {"type": "boolean", "default": False},
                       "also fit style control (image statistics as covariates; ties half or drop)"),
                _query("criterion", {"type": "string"},
                       "rank by one rubric criterion's answers (same = tie) instead of the overall choice")],
            "get": {"operationId": "leaderboard", "summary": "Bradley-Terry leaderboard (researcher, admin)",
                    "responses": {"200": {"description": "rank, model, score, ci_low, ci_high, wins, losses, ties, "
                                                         "judgments, ...; retired models flagged 'retired'",
                                          "content": {_JSON: {"schema": {"type": "object"}},
                                                      "text/csv": {"schema": {"type": "string"}}}},
                                  **_errors(403, 404, 422)}}},
        "/api/v1/pools/{pool}/judgments": {
            "parameters": [_POOL, _query("format", {"enum": ["jsonl", "csv", "pwcmp"], "default": "jsonl"}),
                           *_filter_params()],
            "get": {"operationId": "judgments", "summary": "raw judgments, streamed (researcher, admin)",
                    "responses": {"200": {"description": "one row per judgment",
                                          "content": {"application/x-ndjson": {"schema": {"type": "string"}},
                                                      "text/csv": {"schema": {"type": "string"}}}},
                                  **_errors(403, 404, 422)}}},
        "/api/v1/pools/{pool}/artifacts": {
            "parameters": [_POOL, _query("category", {"type": "string", "default": "all"}),
                           _query("format", {"enum": ["json", "csv"], "default": "json"})],
            "get": {"operationId": "artifacts",
                    "summary": "artifact-tag rates per model with 95 % Wilson intervals (researcher, admin)",
                    "responses": {"200": {"description": "rows model, tag, flagged, shown, rate, ci_low, ci_high; "
                                                         "JSON adds 'separating' (tags that set a model apart)",
                                          "content": {_JSON: {"schema": {"type": "object"}},
                                                      "text/csv": {"schema": {"type": "string"}}}},
                                  **_errors(403, 404, 422)}}},
        "/api/v1/audit": {"get": {
            "operationId": "audit", "summary": "admin actions, newest first (admin)",
            "parameters": [_query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}),
                           _query("before", {"type": "integer"}, "an event id: the page after it"),
                           _query("action", {"type": "string"}, "only this action, e.g. user.add")],
            "responses": {"200": _ok("a page of events", {"type": "object", "properties": {
                "events": {"type": "array", "items": _ref("AuditEvent")},
                "next": {"type": ["string", "null"]}}}), **_errors(403, 422)}}},
        **_with_ids(_quality_paths()),
        **_with_ids(judge_openapi.PATHS),
    }


def _filter_params() -> list[dict[str, Any]]:
    """The judgment browser's filters, also on the raw-judgments download."""
    described = {
        "category": "one category", "model": "judgments showing this model", "versus": "with model: only this pair",
        "choice": "left, right, tie or both_bad", "tag": "a tag (or 'unacceptable'); with model, on that model's side",
        "criterion": "judgments answering this criterion", "answer": "with criterion: left, right or same",
        "expert": "expert-<n> as in the exports", "q": "text in the rationale (case-insensitive, literal)"}
    return [_query(name, {"type": "string"}, text) for name, text in described.items()]


def _with_ids(paths: dict[str, Any]) -> dict[str, Any]:
    """Operation ids and the full error set for the feature modules' paths."""
    out: dict[str, Any] = {}
    for path, item in paths.items():
        item = dict(item)
        for method in ("get", "post", "patch", "delete"):
            if method in item:
                op = dict(item[method])
                op.setdefault("operationId", method + "".join(
                    part.strip("{}").title().replace("-", "") for part in path.split("/")[3:]))
                op["responses"] = {**_errors(400, 403, 404, 409, 410, 413, 422), **op["responses"]}
                item[method] = op
        out[path] = item
    return out


def _quality_paths() -> dict[str, Any]:
    """Rater quality (issue 7): experts' figures and flags, exclusions, gold pairs, own figures."""
    email = _path("email", {"type": "string"})
    reason = {"type": "object", "additionalProperties": False, "properties": {
        "reason": {"type": "string", "minLength": 1, "maxLength": 1000}}}
    return {
        "/api/v1/pools/{pool}/experts": {"parameters": [
            _POOL, _query("format", {"enum": ["json", "csv"], "default": "json"})],
            "get": {"summary": "per-expert quality figures and flags (researcher, admin)",
                    "responses": {"200": {"description": (
                        "{pool, agreement: {overlap_pairs, krippendorff_alpha, mean_cohen_kappa}, experts: [{email, "
                        "expert, judgments, gold_accuracy, gold_ci_low, gold_ci_high, overlap_agreement, "
                        "overlap_kappa, fit_agreement, fit_expected, left_rate, left_p_value, median_seconds, "
                        "median_rationale_chars, repeated_share, flags: [{kind: careless|side_bias|copy_paste, "
                        "evidence}], excluded, exclusion_reason}], exclusion_history}"),
                        "content": {_JSON: {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}}}}}}},
        "/api/v1/pools/{pool}/experts/{email}/exclusion": {
            "parameters": [_POOL, email],
            "post": {"summary": "exclude an expert's judgments in this pool from every fit (admin)",
                     "requestBody": _json_body({**reason, "required": ["reason"]}),
                     "responses": {"201": _ok("excluded", {"type": "object"})}},
            "delete": {"summary": "include an excluded expert's judgments again (admin)",
                       "requestBody": {"required": False, "content": {_JSON: {"schema": reason}}},
                       "responses": {"200": _ok("included", {"type": "object"})}}},
        "/api/v1/pools/{pool}/gold": {
            "parameters": [_POOL],
            "get": {"summary": "the pool's gold pairs, designated and generated (admin)",
                    "responses": {"200": _ok("{gold: [{id, kind, item, better, worse, degradation}]}",
                                             {"type": "object"})}},
            "post": {"summary": "designate a gold pair: on item, model better's output beats worse's (admin)",
                     "requestBody": _json_body({"type": "object", "required": ["item", "better", "worse"],
                                                "additionalProperties": False,
                                                "properties": {"item": {"type": "string"},
                                                               "better": {"type": "string"},
                                                               "worse": {"type": "string"}}}),
                     "responses": {"201": _ok("the gold pair", {"type": "object"}),
                                   "200": _ok("already designated", {"type": "object"})}}},
        "/api/v1/me/quality": {"get": {"summary": "the caller's own figures per pool (gold accuracy, agreement, speed)",
                                       "responses": {"200": _ok("{email, pools: [...]}", {"type": "object"})}}},
    }
