"""Errors that operations raise and users read: one line, with an HTTP status.

Views turn them into ``{"error": message}`` with the status; the CLI turns them
into a one-line ``click.ClickException``.
"""

from __future__ import annotations


class Problem(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(Problem):
    status = 422


class NotFound(Problem):
    status = 404


class Forbidden(Problem):
    status = 403


class Conflict(Problem):
    status = 409


class Gone(Problem):
    status = 410
