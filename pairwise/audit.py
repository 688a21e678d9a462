"""The audit log of admin actions: who changed accounts, tokens, pools, exclusions.

:func:`record` adds one row in the caller's transaction (it flushes, never
commits), so an action and its entry are stored together or not at all.
Details never hold secrets: no passwords, no tokens, only ids and settings.

Actions in use: ``user.add``, ``user.deactivate``, ``user.activate``,
``user.password``, ``token.create``, ``token.revoke``, ``pool.create``,
``pool.update``, ``pool.open``, ``pool.close``, ``pool.seed``, ``pool.item``,
``expert.exclude``, ``expert.include``.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import Invalid
from .schema import AuditEvent

MAX_LIMIT = 1000
_TEXT = 300  # the width of the actor and target columns


def record(db: Session, actor: str, action: str, target: str,
           details: Mapping[str, Any] | None = None) -> AuditEvent:
    """Add one entry to the log, in the caller's transaction."""
    event = AuditEvent(actor=actor[:_TEXT], action=action, target=target[:_TEXT],
                       details=dict(details or {}))
    db.add(event)
    db.flush()
    return event


def cli_actor() -> str:
    """The actor for CLI commands: whoever runs them on the server."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "cli"


def events(db: Session, *, limit: int = 50, before: int | None = None,
           action: str | None = None) -> list[AuditEvent]:
    """Newest first; ``before`` (an event id) pages on without skipping or repeating."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit: a whole number from 1 to {MAX_LIMIT}")
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEvent.id < before)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.scalars(query))


def event_json(event: AuditEvent) -> dict[str, Any]:
    return {"id": event.id, "at": event.created_at.isoformat(timespec="seconds") + "Z",
            "actor": event.actor, "action": event.action, "target": event.target,
            "details": event.details}


def table(rows: list[AuditEvent]) -> str:
    """A plain-text table for the CLI, one event per line."""
    lines = [f"{'id':>6}  {'at (UTC)':19}  {'actor':28}  {'action':16}  {'target':24}  details"]
    for e in rows:
        lines.append(f"{e.id:>6}  {e.created_at:%Y-%m-%d %H:%M:%S}  {e.actor:28.28}  {e.action:16.16}  "
                     f"{e.target:24.24}  {json.dumps(e.details, sort_keys=True, separators=(',', ':'))}")
    return "\n".join(lines) + "\n"
