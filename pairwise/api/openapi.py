"""The OpenAPI 3.1 description of /api/v1/ (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from ..vocabulary import TAGS
from . import judge_openapi


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _pool_param() -> dict[str, Any]:
    return {"name": "pool", "in": "path", "required": True, "schema": {"type": "string"}}


def _filter_params() -> list[dict[str, Any]]:
    described = {
        "category": "one category", "model": "judgments showing this model", "versus": "with model: only this pair",
        "choice": "left, right, tie or both_bad", "tag": "a tag (or 'unacceptable'); with model, on that model's side",
        "criterion": "judgments answering this criterion", "answer": "with criterion: left, right or same",
        "expert": "expert-<n> as in the exports", "q": "text in the rationale (case-insensitive, literal)"}
    return [{"name": name, "in": "query", "schema": {"type": "string"}, "description": text}
            for name, text in described.items()]


def spec() -> dict[str, Any]:
    image = {"type": "object", "properties": {
        "url": {"type": "string"}, "preview_url": {"type": "string"},
        "width": {"type": "integer"}, "height": {"type": "integer"}, **judge_openapi.IMAGE_PROPERTIES}}
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
                    "categories": {"type": ["array", "null"], "items": {"type": "string"}},
                    "resample_outputs": {"type": "boolean", "default": False},
                    "tags": {"description": "the pool's artifact vocabulary: a list of slugs or {slug: label}; "
                                            "null for the built-in list",
                             "oneOf": [{"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"}},
                                       {"type": "object", "additionalProperties": {"type": "string"}},
                                       {"type": "null"}]},
                    "criteria": {"type": ["array", "null"], "description": "rubric criteria answered per pair",
                                 "items": {"oneOf": [{"type": "string"}, {"$ref": "#/components/schemas/Criterion"}]}}}},
                "Criterion": {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {
                    "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,39}$"},
                    "label": {"type": "string"}, "required": {"type": "boolean", "default": False}}},
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
                    "tags": {"type": "object", "additionalProperties": {"type": "string"},
                             "description": "the pool's tag vocabulary, slug -> label"},
                    "criteria": {"type": "array", "items": {"$ref": "#/components/schemas/Criterion"}},
                    "submit_url": {"type": "string"}, **judge_openapi.ASSIGNMENT_PROPERTIES}},
                "Judgment": {"type": "object", "required": ["choice", "rationale"],
                             "additionalProperties": False, "properties": {
                    "choice": {"enum": ["left", "right", "tie", "both_bad"]},
                    "rationale": {"type": "string", "description": "at least the pool's rationale_min_chars, "
                                                                   "not counting surrounding whitespace"},
                    "tags": {"type": "object", "properties": {
                        side: {"type": "array", "items": {"type": "string"},
                               "description": f"tags of the pool's vocabulary (default: {', '.join(TAGS)})"}
                        for side in ("left", "right")}},
                    "unacceptable": {"type": "object", "description": "would not ship; both_bad sets both",
                                     "additionalProperties": False, "properties": {
                                         "left": {"type": "boolean"}, "right": {"type": "boolean"}}},
                    "criteria": {"type": "object", "description": "the pool's criteria; required ones must be answered",
                                 "additionalProperties": {"enum": ["left", "right", "same"]}},
                    **judge_openapi.JUDGMENT_PROPERTIES}},
                "StoredJudgment": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "assignment": {"type": "integer"},
                    "choice": {"enum": ["left", "right", "tie", "both_bad"]}, "rationale": {"type": "string"},
                    "tags": {"type": "object"}, "created_at": {"type": "string", "format": "date-time"}}},
                "AuditEvent": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
                    "actor": {"type": "string", "description": "an account's email, or cli:<os user>"},
                    "action": {"type": "string"}, "target": {"type": "string"},
                    "details": {"type": "object"}}},
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
                "post": {"summary": "answer an assignment; safe to retry",
                         "description": "A retry whose first response was lost is recognised: the same body "
                                        "(same JSON value) for an assignment the caller already judged answers "
                                        "200 with the stored judgment, so 'already stored' and 'judged "
                                        "differently' (409) can be told apart. With an Idempotency-Key header, "
                                        "the key is stored with the judgment; reusing it for another body or "
                                        "another assignment is refused (422).",
                         "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                         "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
                                         "description": "one fresh key (e.g. a UUID) per judgment, "
                                                        "the same on every retry of it"}],
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/Judgment"}}}},
                         "responses": {"201": {"description": "recorded", "content": {"application/json": {
                                           "schema": {"$ref": "#/components/schemas/StoredJudgment"}}}},
                                       "200": {"description": "a retry: this judgment was already stored",
                                               "content": {"application/json": {"schema": {
                                                   "$ref": "#/components/schemas/StoredJudgment"}}}},
                                       "403": _error("issued to another expert"),
                                       "404": _error("no such assignment"),
                                       "409": _error("already judged with a different answer"),
                                       "410": _error("expired"),
                                       "422": _error("bad body, or an Idempotency-Key reused for another request"),
                                       "503": _error("database unavailable (Retry-After says when to retry)")}}},
            "/api/v1/audit": {"get": {
                "summary": "admin actions, newest first (admin)",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                               "maximum": 1000, "default": 50}},
                    {"name": "before", "in": "query", "schema": {"type": "integer"},
                     "description": "an event id: the page after it (use the 'next' URL)"},
                    {"name": "action", "in": "query", "schema": {"type": "string"},
                     "description": "only this action, e.g. user.add, pool.update"}],
                "responses": {"200": {"description": "a page of events", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {
                        "events": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEvent"}},
                        "next": {"type": ["string", "null"], "description": "the next page, or null"}}}}}},
                    "403": _error("not an admin"), "422": _error("bad parameter")}}},
            "/api/v1/pools/{pool}/leaderboard": {"parameters": [
                _pool_param(),
                {"name": "category", "in": "query", "schema": {"type": "string", "default": "all"}},
                {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"], "default": "json"}},
                {"name": "ties", "in": "query", "schema": {"enum": ["half", "davidson", "drop"], "default": "half"}},
                {"name": "position", "in": "query", "schema": {"type": "boolean", "default": False}},
                {"name": "bootstrap", "in": "query", "schema": {"enum": [0, 100, 200, 500, 1000, 2000], "default": 0,
                                                                 "description": "0: closed-form intervals (the default "
                                                                                "everywhere); else bootstrap rounds"}},
                {"name": "style", "in": "query", "schema": {"type": "boolean", "default": False,
                                                             "description": "also fit style control (image statistics "
                                                                            "as covariates; ties half or drop)"}},
                {"name": "criterion", "in": "query", "schema": {"type": "string"},
                 "description": "rank by one rubric criterion's answers (same = tie) instead of the overall choice"}],
                "get": {"summary": "Bradley-Terry leaderboard (researcher, admin)",
                        "responses": {"200": {"description": "rank, model, score, ci_low, ci_high, wins, losses, ties, judgments, "
                                                             "..., unacceptable, unacceptable_rate, unacceptable_ci_low, "
                                                             "unacceptable_ci_high, criterion"},
                                      "422": _error("bad parameter")}}},
            "/api/v1/pools/{pool}/judgments": {"parameters": [
                _pool_param(), {"name": "format", "in": "query", "schema": {"enum": ["jsonl", "csv", "pwcmp"], "default": "jsonl"}},
                *_filter_params()],
                "get": {"summary": "raw judgments, streamed (researcher, admin); the judgment browser's filters select rows",
                        "responses": {"200": {"description": "one row per judgment: ..., unacceptable_left, unacceptable_right, "
                                                             "then criterion_<name> per pool criterion (CSV) or criteria (JSONL), "
                                                             "excluded (an excluded expert's judgment); gold answers left out"},
                                      "422": _error("bad filter (unknown model, tag, criterion, expert, ...)")}}},
            "/api/v1/pools/{pool}/artifacts": {"parameters": [
                _pool_param(),
                {"name": "category", "in": "query", "schema": {"type": "string", "default": "all"}},
                {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"], "default": "json"}}],
                "get": {"summary": "artifact-tag rates per model with 95 % Wilson intervals (researcher, admin)",
                        "responses": {"200": {"description": "rows model, tag, flagged, shown, rate, ci_low, ci_high; "
                                                             "JSON adds 'separating' (tags that set a model apart, in words)"},
                                      "422": _error("bad category or format")}}},
            **_quality_paths(),
            **judge_openapi.PATHS,
        },
    }


def _quality_paths() -> dict[str, Any]:
    """Rater quality (issue 7): experts' figures and flags, exclusions, gold pairs, own figures."""
    email = {"name": "email", "in": "path", "required": True, "schema": {"type": "string"}}
    reason = {"type": "object", "additionalProperties": False, "properties": {
        "reason": {"type": "string", "minLength": 1, "maxLength": 1000}}}
    return {
        "/api/v1/pools/{pool}/experts": {"parameters": [
            _pool_param(), {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"], "default": "json"}}],
            "get": {"summary": "per-expert quality figures and flags (researcher, admin)",
                    "responses": {"200": {"description": (
                        "{pool, agreement: {overlap_pairs, krippendorff_alpha, mean_cohen_kappa}, experts: [{email, "
                        "expert, judgments, gold_judged, gold_correct, gold_accuracy, gold_ci_low, gold_ci_high, "
                        "overlap_judged, overlap_agreement, overlap_kappa, fit_judged, fit_agreed, fit_agreement, "
                        "fit_expected, left, right, left_rate, left_p_value, median_seconds, median_rationale_chars, "
                        "repeated_rationales, repeated_share, careless_lr, side_lr, flags: [{kind: careless|side_bias|"
                        "copy_paste, evidence}], excluded, exclusion_reason}], exclusion_history}")},
                        "404": _error("no such pool"), "422": _error("bad format")}}},
        "/api/v1/pools/{pool}/experts/{email}/exclusion": {
            "parameters": [_pool_param(), email],
            "post": {"summary": "exclude an expert's judgments in this pool from every fit (admin)",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         **reason, "required": ["reason"]}}}},
                     "responses": {"201": {"description": "excluded"}, "404": _error("no such pool or expert"),
                                   "409": _error("already excluded"), "422": _error("empty reason")}},
            "delete": {"summary": "include an excluded expert's judgments again (admin)",
                       "requestBody": {"required": False, "content": {"application/json": {"schema": reason}}},
                       "responses": {"200": {"description": "included"}, "404": _error("no such pool or expert"),
                                     "409": _error("not excluded")}}},
        "/api/v1/pools/{pool}/gold": {
            "parameters": [_pool_param()],
            "get": {"summary": "the pool's gold pairs, designated and generated (admin)",
                    "responses": {"200": {"description": "{gold: [{id, kind, item, better, worse, degradation}]}"}}},
            "post": {"summary": "designate a gold pair: on item, model better's output beats worse's (admin)",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["item", "better", "worse"], "additionalProperties": False,
                         "properties": {"item": {"type": "string"}, "better": {"type": "string"},
                                        "worse": {"type": "string"}}}}}},
                     "responses": {"201": {"description": "the gold pair"},
                                   "422": _error("unknown item or model")}}},
        "/api/v1/me/quality": {"get": {"summary": "the caller's own figures per pool (gold accuracy, agreement, speed)",
                                       "responses": {"200": {"description": "{email, pools: [...]}"}}}},
    }
