"""Request hygiene every route gets, whoever wrote it: body limits, strict JSON,
bounded URL ids, and security headers on every response.

Wired first in ``create_app`` so that a request is measured before any
authentication, CSRF or view code reads its body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask, abort, current_app, g, has_request_context, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter
from werkzeug.wrappers import Response

# Ids are INTEGER columns (32-bit on PostgreSQL): a larger number in a URL
# names nothing, so it is a 404 from the router, never a database overflow.
MAX_ID = 2**31 - 1
MAX_JSON_DEPTH = 32

CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP level 2
    "Cross-Origin-Opener-Policy": "same-origin",
}


# ----- body limits ------------------------------------------------------------

def accepts_upload(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view that takes files: its body may be PAIRWISE_MAX_UPLOAD_MB,
    where every other route takes at most PAIRWISE_MAX_BODY_KB."""
    view.accepts_upload = True  # type: ignore[attr-defined]
    return view


def body_limit() -> int:
    """The byte limit of this request's body, from the route it matched."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "accepts_upload", False):
        return int(current_app.config["MAX_CONTENT_LENGTH"])  # PAIRWISE_MAX_UPLOAD_MB, in bytes
    return int(current_app.config["MAX_BODY_KB"]) * 2**10


def _limit_body() -> None:
    limit = body_limit()
    too_large = f"request body too large: at most {limit // 1024} KB on this route"
    # From the header, before a byte is read.
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        abort(413, too_large)
    if request.content_length is None and "wsgi.input_terminated" in request.environ and limit < 2**20:
        # A body without a length (chunked): Werkzeug would cut it at the limit
        # without a word; read one byte more (kept for the view) to tell.
        request.max_content_length = limit + 1
        if len(request.get_data(cache=True)) > limit:
            abort(413, too_large)


def _refuse_nul() -> None:
    # PostgreSQL text cannot hold NUL, and no name, slug or text here needs it:
    # refuse it at the door instead of as a DataError (500) deep in a query.
    # Upload forms are left to their view, which checks each field after auth.
    fields = list(request.args.items(multi=True))
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") and not getattr(
            current_app.view_functions.get(request.endpoint or ""), "accepts_upload", False):
        fields += list(request.form.items(multi=True))
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in fields):
        abort(400, "a NUL character in the URL or form")


# ----- JSON ---------------------------------------------------------------------

def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_parsed(value: Any) -> None:
    """No lone surrogates (they cannot be stored or encoded) and bounded nesting.

    NUL and other control characters are left to each field's check, which
    names the field.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("a string holds a lone surrogate (\\ud800-\\udfff), not text") from None
        elif isinstance(node, dict):
            stack.extend((k, depth + 1) for k in node)
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


class StrictJSONProvider(DefaultJSONProvider):
    """``request.get_json()`` that turns hostile JSON into a parse error (4xx), not a 500."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = json.loads(s, parse_constant=_reject_constant, **kwargs)
            _check_parsed(value)
        except RecursionError:
            _remember("JSON nested too deep")
            raise ValueError("JSON nested too deep") from None
        except ValueError as exc:
            _remember(str(exc).splitlines()[0][:200])
            raise
        return value


def _remember(reason: str) -> None:
    if has_request_context():
        g.json_error = reason


def json_error() -> str | None:
    """Why this request's JSON body did not parse, if it did not."""
    return g.get("json_error")


# ----- URL ids ------------------------------------------------------------------

class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` with an upper bound: every id route refuses 2**63 with a 404."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = None, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min,
                         max=MAX_ID if max is None else max, signed=signed)


# ----- headers --------------------------------------------------------------------

def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("MAX_BODY_KB", 64)
    app.json = StrictJSONProvider(app)
    app.url_map.converters["int"] = BoundedIntConverter
    # before_request functions run in registration order: this one runs first.
    if app.config.get("PROXY_HOPS"):
        # Behind a reverse proxy every client would share the proxy's address
        # (and its login throttle): trust exactly that many X-Forwarded-For hops.
        from werkzeug.middleware.proxy_fix import ProxyFix
        hops = int(app.config["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.before_request(_limit_body)
    app.before_request(_refuse_nul)
    app.after_request(_headers)
