"""API surface: health, OpenAPI, catalogue, and problem+json for what does not exist."""

from tests.conftest import assert_problem


def test_healthz_checks_the_database(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["database"] == "ok" and body["postgis"].startswith("3.")
    assert body["grids_indexed"] > 0


def test_docs_and_openapi(client):
    import re

    docs = client.get("/docs")
    assert docs.status_code == 200
    # offline: every script, stylesheet and icon the page loads is this server's, and is there
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""", docs.text)
    urls = [a or b for a, b in urls]
    assert urls and not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
    assert all(client.get(u).status_code == 200 for u in urls), urls
    assert client.get("/redoc").status_code == 404  # its default would load a CDN too
    spec = client.get("/openapi.json").json()
    assert "/api/v1/lookup" in spec["paths"] and "/api/v1/auth/token" in spec["paths"]


def test_catalogue_lists_16_classes_with_routing(client):
    majors = client.get("/api/v1/categories").json()
    assert len(majors) == 16
    item = majors[0]["items"][0]
    assert item["handling_level"] in ("grid", "community", "street", "district")
    assert item["department"]["name"] and item["deadlines_hours"]["handle"] > 0


def test_unknown_route_is_a_problem(client):
    assert_problem(client.get("/api/v1/nope"), 404, "not-found")


def test_wrong_method_is_a_problem(client):
    assert_problem(client.delete("/healthz"), 405)
