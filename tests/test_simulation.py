"""Simulated experts answer through the API from known Bradley-Terry strengths;
the leaderboard must recover them. (Calibration over many simulated worlds is
in test_ranking; this checks the whole path: scheduling, left/right storage,
aggregation, model mapping and centring.)"""

from __future__ import annotations

import math

import numpy as np
from sqlalchemy import select

TRUTH = {"m-worst": -1.0, "m-poor": -0.5, "m-mid": 0.0, "m-good": 0.5, "m-best": 1.0}
LEFT_BIAS = 0.4  # the simulated experts favour the left side by this much (log-odds)


def kendall_tau(a: list[float], b: list[float]) -> float:
    n = len(a)
    s = sum(np.sign(a[i] - a[j]) * np.sign(b[i] - b[j]) for i in range(n) for j in range(i + 1, n))
    return s / (n * (n - 1) / 2)


def test_simulated_experts_are_recovered(app, client, make_pool, make_user, token_for) -> None:
    from pairwise.db import get_db
    from pairwise.schema import Model, Output
    make_pool(items=16, models=tuple(TRUTH), rationale_min_chars=5)
    with app.app_context():
        model_of_image = {}
        for output, name in get_db().execute(select(Output, Model.name).join(Model, Model.id == Output.model_id)):
            model_of_image[output.image.sha256] = name
    rng = np.random.default_rng(2024)
    experts = [token_for(make_user("expert")) for _ in range(3)]
    n = 0
    for headers in experts:
        while (issued := client.post("/api/v1/pools/pool-1/assignments", headers=headers)).status_code == 201:
            body = issued.json
            left = model_of_image[body["left"]["url"].split("/")[-1][:-4]]
            right = model_of_image[body["right"]["url"].split("/")[-1][:-4]]
            p_left = 1 / (1 + math.exp(-(TRUTH[left] - TRUTH[right] + LEFT_BIAS)))
            choice = "left" if rng.random() < p_left else "right"
            response = client.post(body["submit_url"], headers=headers,
                                   json={"choice": choice, "rationale": "simulated answer"})
            assert response.status_code == 201
            n += 1
    assert n == 3 * 16 * 10  # every pair of every item, once per expert

    researcher = token_for(make_user("researcher"))
    board = client.get("/api/v1/pools/pool-1/leaderboard?position=true&bootstrap=500",
                       headers=researcher).json
    rows = {r["model"]: r for r in board["rows"]}
    assert board["judgments"] == n
    assert abs(sum(r["score"] for r in rows.values())) < 1e-3  # centred
    names = list(TRUTH)
    tau = kendall_tau([TRUTH[m] for m in names], [rows[m]["score"] for m in names])
    assert tau >= 0.8
    covered = sum(rows[m]["ci_low"] <= TRUTH[m] <= rows[m]["ci_high"] for m in names)
    assert covered >= 4
    # One simulated world (the scheduler and the answers are seeded): the
    # interval's calibration over many worlds is test_ranking's job; here the
    # left side must come out favoured, by about the simulated amount.
    effect = board["position_effect"]
    assert effect["ci_low"] > 0 and abs(effect["estimate"] - LEFT_BIAS) < 0.3
