"""Failed-login answer time, known vs unknown account (account enumeration by timing).

    .venv/bin/python scripts/login_timing.py [--rounds 20]

Runs the real login view through Flask's test client on a temporary SQLite
database; prints the median and spread of each. Throttling is lifted for the
run (it would answer 429 after five failures).
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    from pairwise import create_app
    from pairwise.auth import add_user
    from pairwise.db import get_db, get_engine
    from pairwise.migrate import upgrade

    folder = Path(tempfile.mkdtemp(prefix="pairwise-timing-"))
    app = create_app({"DATABASE_URL": f"sqlite:///{folder / 'timing.db'}", "IMAGE_DIR": str(folder / "images"),
                      "SECRET_KEY": "timing", "LOGIN_MAX_FAILURES": 10**6,
                      "LOGIN_MAX_FAILURES_PER_ADDRESS": 10**6})
    with app.app_context():
        upgrade(get_engine())
        db = get_db()
        add_user(db, "known@example.com", "the-right-password", "expert")
        db.commit()
    client = app.test_client()

    def once(email: str) -> float:
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token
        start = time.perf_counter()
        response = client.post("/login", data={"email": email, "password": "a-wrong-password",
                                               "csrf_token": token.group(1)})
        elapsed = time.perf_counter() - start
        assert response.status_code == 401, response.status_code
        return elapsed * 1000

    once("warm-up@example.com")
    for label, email in (("existing account", "known@example.com"), ("unknown account", "nobody@example.com")):
        times = [once(email) for _ in range(args.rounds)]
        print(f"{label:17} median {statistics.median(times):7.1f} ms  "
              f"(min {min(times):.1f}, max {max(times):.1f}, n={len(times)})")


if __name__ == "__main__":
    main()
