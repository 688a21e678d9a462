"""Safe retries of a judgment submission (operations: flush only).

A client whose response was lost (a timeout, a dropped connection, a 503
during a database restart) cannot know whether its judgment was stored. It
retries; this module recognises the retry:

- with an ``Idempotency-Key`` header, the key is stored with the judgment;
  the same key with the same body answers the stored judgment (200), the same
  key with anything else is refused (422) with the reason;
- without a key, a resubmission of an already judged assignment by its own
  expert with the same body answers the stored judgment (200); a different
  body is still a conflict (409).

"The same body" is the same JSON value (key order and spacing aside),
compared through the sha256 stored with each judgment.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import judging
from .errors import Conflict, Invalid
from .schema import Judgment, User

HEADER = "Idempotency-Key"
KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces: UUIDs, ULIDs, hashes


def parse_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not KEY.match(value):
        raise Invalid(f"{HEADER}: 1 to 200 printable ASCII characters without spaces (a UUID, say)")
    return value


def body_sha256(body: Any) -> str:
    """The digest of a JSON body, the same for any key order or spacing."""
    try:
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                               allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        raise Invalid("body: expected a JSON object with choice, rationale and tags") from None
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def find_replay(db: Session, assignment_id: int, expert: User, key: str | None, digest: str) -> Judgment | None:
    """The stored judgment this request repeats, or None if it is a new submission.

    Raises Invalid when the key was used for another request, Conflict when the
    assignment was judged with a different answer, and (through
    :func:`judging.get_assignment`) NotFound / Forbidden for assignments that
    are not the caller's, so a replay never reveals someone else's judgment.
    """
    assignment = judging.get_assignment(db, assignment_id, expert)
    if key is not None:
        keyed = db.scalar(select(Judgment).where(Judgment.expert_id == expert.id,
                                                 Judgment.idempotency_key == key))
        if keyed is not None:
            if keyed.assignment_id != assignment.id:
                raise Invalid(f"{HEADER}: {key!r} was already used for assignment {keyed.assignment_id}; "
                              "use a new key for each judgment")
            if keyed.request_sha256 != digest:
                raise Invalid(f"{HEADER}: {key!r} was already used with a different body "
                              f"(judgment {keyed.id} of assignment {assignment.id} is stored)")
            return keyed
    stored = db.scalar(select(Judgment).where(Judgment.assignment_id == assignment.id))
    if stored is None:
        return None
    if stored.request_sha256 == digest:
        return stored
    raise Conflict(f"assignment {assignment.id} was already judged with a different answer "
                   f"(judgment {stored.id}); fetch a new pair")


def submit(db: Session, assignment_id: int, expert: User, body: Any,
           key: str | None) -> tuple[Judgment, bool]:
    """Record the judgment, or recognise a retry: (judgment, created)."""
    digest = body_sha256(body)
    replay = find_replay(db, assignment_id, expert, key, digest)
    if replay is not None:
        return replay, False
    try:
        judgment = judging.record_judgment(db, assignment_id, expert, body)
    except Conflict:
        # A racing twin committed between our look and record_judgment's own
        # "already judged?" check: it may be this very request, sent twice.
        replay = find_replay(db, assignment_id, expert, key, digest)
        if replay is None:
            raise
        return replay, False
    judgment.idempotency_key = key
    judgment.request_sha256 = digest
    db.flush()
    return judgment, True


def judgment_json(judgment: Judgment) -> dict[str, Any]:
    """What the expert gets back: their own answer as stored."""
    return {"id": judgment.id, "assignment": judgment.assignment_id, "choice": judgment.choice.value,
            "rationale": judgment.rationale,
            "tags": {"left": list(judgment.tags_left), "right": list(judgment.tags_right)},
            "created_at": judgment.created_at.isoformat(timespec="seconds") + "Z"}
