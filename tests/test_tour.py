"""全区巡游: a short tour, not alphabetical, with summaries that check out."""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from gis_core.field import tour
from tests.conftest import assert_problem


def test_the_tour_of_points_on_a_circle_goes_round_it():
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    xy = np.column_stack([np.cos(angles), np.sin(angles)]) * 1000
    shuffled = np.random.default_rng(1).permutation(12)
    ordered = tour.order(xy[shuffled])
    assert sorted(ordered) == list(range(12))
    perimeter = 12 * 2 * 1000 * np.sin(np.pi / 12)
    assert abs(tour.length(xy[shuffled], ordered) - perimeter) < 1e-6  # the optimum
    assert tour.length(xy[shuffled], ordered) < tour.length(xy[shuffled], list(range(12)))


def test_the_community_tour_visits_each_once_with_true_summaries(client, auth, engine):
    body = client.get(
        "/api/v1/patrol/tour",
        params={"level": "community", "at": "2026-11-01T09:00:00+08:00"},
        headers=auth(),
    ).json()
    stops = body["stops"]
    with engine.connect() as c:
        codes = sorted(r[0] for r in c.execute(sa.text("SELECT code FROM community")))
        assert sorted(s["code"] for s in stops) == codes
        stop = stops[1]
        want = c.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM camera m JOIN community cm ON cm.id = m.community_id "
                "        WHERE cm.code = :c), "
                "       (SELECT count(*) FROM incident i JOIN community cm ON cm.id = i.community_id "
                "        WHERE cm.code = :c AND i.state IN ('reported','accepted','dispatched','in_progress','suspended'))"
            ),
            {"c": stop["code"]},
        ).one()
    assert (stop["summary"]["cameras"], stop["summary"]["open_incidents"]) == tuple(want)
    distances = [cam["distance_m"] for cam in stop["cameras"]]
    assert len(distances) == 3 and distances == sorted(distances)
    minx, miny, maxx, maxy = stop["extent"]
    assert minx <= stop["centre"][0] <= maxx and miny <= stop["centre"][1] <= maxy
    # shorter than visiting them in code order
    by_code = sorted(stops, key=lambda s: s["code"])
    from pyproj import Transformer

    to_m = Transformer.from_crs(4326, 4550, always_xy=True)

    def closed_length(seq):
        x, y = to_m.transform([s["centre"][0] for s in seq], [s["centre"][1] for s in seq])
        p = np.column_stack([x, y])
        return float(np.hypot(*np.diff(np.vstack([p, p[:1]]), axis=0).T).sum())

    assert abs(closed_length(stops) - body["length_m"]) < 1 and body["length_m"] <= closed_length(by_code)


def test_a_street_officer_tours_their_own_street(client, auth, engine):
    stops = client.get("/api/v1/patrol/tour", params={"level": "community"}, headers=auth("street")).json()[
        "stops"
    ]
    with engine.connect() as c:
        mine = sorted(
            r[0]
            for r in c.execute(
                sa.text(
                    "SELECT cm.code FROM community cm JOIN street s ON s.id = cm.street_id "
                    "WHERE s.code = (SELECT jurisdiction_code FROM app_user WHERE username = 'street')"
                )
            )
        )
    assert sorted(s["code"] for s in stops) == mine and mine


def test_key_points_and_bad_levels(client, auth):
    body = client.get(
        "/api/v1/patrol/tour",
        params={"level": "key_point", "at": "2026-11-01T09:00:00+08:00"},
        headers=auth(),
    ).json()
    assert body["stops"] and all("overdue" in s["summary"] for s in body["stops"])
    assert assert_problem(client.get("/api/v1/patrol/tour", params={"level": "moon"}, headers=auth()), 422)
    bad = client.get("/api/v1/patrol/tour", params={"within": "abc"}, headers=auth())
    assert assert_problem(bad, 400)["where"] == "query.within"
    assert_problem(client.get("/api/v1/patrol/tour", headers=auth("citizen")), 403)
