"""冷链监管: a week of demo readings with excursions, a site's cameras, readings and alert history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tests.conftest import assert_problem


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T").replace("+00", "+00:00"))


def test_the_demo_has_a_week_of_readings_and_its_excursions_show_in_them(client, auth, engine, manifest):
    end = datetime.fromisoformat(manifest["end"])
    with engine.connect() as c:
        # the demo's readings (other tests post live ones, after its end)
        probed, first, last = c.execute(
            sa.text(
                "SELECT count(DISTINCT site_id), min(recorded_at), max(recorded_at) FROM cold_chain_reading "
                "WHERE recorded_at <= :end"
            ),
            {"end": end},
        ).one()
        sites = c.execute(
            sa.text("SELECT count(*) FROM cold_chain_site WHERE category <> 'quarantine_hotel'")
        ).scalar()
    assert probed == sites and last <= end and end - last < timedelta(hours=1)
    assert last - first >= timedelta(days=6, hours=23)
    excursions = manifest["cold_chain_excursions"]
    assert excursions
    for x in excursions:
        a, b = _t(x["from"]), _t(x["to"])
        during = client.get(
            f"/api/v1/cold-chain/sites/{x['site']}/readings",
            params={"from": a.isoformat(), "to": b.isoformat()},
            headers=auth(),
        ).json()
        assert during["above_limit"] == len(during["readings"]) > 0
        assert max(r["temperature_c"] for r in during["readings"]) == x["peak_c"]
        before = client.get(
            f"/api/v1/cold-chain/sites/{x['site']}/readings",
            params={
                "from": (a - timedelta(hours=12)).isoformat(),
                "to": (a - timedelta(minutes=1)).isoformat(),
            },
            headers=auth(),
        ).json()
        assert len(before["readings"]) >= 20 and before["above_limit"] == 0
        assert all(r["t"].endswith("+08:00") for r in before["readings"])


def test_a_site_names_its_cameras_and_latest_reading(client, auth, engine):
    with engine.connect() as c:
        code, cams, latest = c.execute(
            sa.text(
                "SELECT s.code, (SELECT count(*) FROM cold_chain_camera cc WHERE cc.site_id = s.id), "
                "(SELECT temperature_c FROM cold_chain_reading r WHERE r.site_id = s.id ORDER BY recorded_at DESC LIMIT 1) "
                "FROM cold_chain_site s WHERE s.category <> 'quarantine_hotel' ORDER BY s.code LIMIT 1"
            )
        ).one()
    body = client.get(f"/api/v1/cold-chain/sites/{code}", headers=auth("gridworker")).json()
    assert body["code"] == code and len(body["cameras"]) == cams >= 1
    assert body["latest"]["temperature_c"] == latest and body["latest"]["t"].endswith("+08:00")
    assert {"code", "online", "lon", "lat"} <= set(body["cameras"][0])


def test_a_sites_alerts_keep_their_history(client, auth, engine):
    with engine.connect() as c:
        code, sid = c.execute(
            sa.text("SELECT code, id FROM cold_chain_site ORDER BY code DESC LIMIT 1")
        ).one()
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        for minutes, temp in ((-10, -4.0), (-5, -21.0)):  # warm: raised; cold again: cleared
            r = client.post(
                "/api/v1/cold-chain/readings",
                json={
                    "readings": [
                        {
                            "site": code,
                            "t": (now + timedelta(minutes=minutes)).isoformat(),
                            "temperature_c": temp,
                        }
                    ]
                },
                headers=auth(),
            )
            assert r.status_code == 200, r.text
        alerts = client.get(f"/api/v1/cold-chain/sites/{code}/alerts", headers=auth()).json()["alerts"]
        newest = alerts[0]
        assert newest["state"] == "cleared" and [e["action"] for e in newest["timeline"]] == [
            "raise",
            "clear",
        ]
        assert "温度异常" in newest["message"] and newest["raised_at"].endswith("+08:00")
    finally:
        with engine.begin() as c:
            c.execute(
                sa.text("DELETE FROM cold_chain_reading WHERE site_id = :s AND recorded_at > :t"),
                {"s": sid, "t": now - timedelta(hours=1)},
            )


def test_cold_chain_reads_refuse_bad_input(client, auth):
    base = "/api/v1/cold-chain/sites"
    assert_problem(client.get(f"{base}/CC999/readings", headers=auth()), 404)
    assert_problem(
        client.get(
            f"{base}/CC001/readings",
            params={"from": "2026-10-02T00:00:00+08:00", "to": "2026-10-01T00:00:00+08:00"},
            headers=auth(),
        ),
        400,
    )
    body = assert_problem(
        client.get(
            f"{base}/CC001/readings",
            params={"from": "2026-08-01T00:00:00+08:00", "to": "2026-10-01T00:00:00+08:00"},
            headers=auth(),
        ),
        400,
    )
    assert body["where"] == "query.from"
    assert_problem(client.get(f"{base}/CC001", headers=auth("citizen")), 403)
