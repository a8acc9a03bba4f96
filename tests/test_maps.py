"""Notebook maps draw in real headless Chromium with every network request refused."""

from __future__ import annotations

import geopandas as gpd
import shapely

from gis_core.analysis import maps
from tests.browser import ARTIFACTS, browser_context


def test_an_offline_map_draws_its_layers_and_legend_without_a_network(tmp_path):
    cells = gpd.GeoDataFrame(
        {"code": ["A", "B", "C"], "bin": [3, 0, -2]},
        geometry=[shapely.box(124.30 + i * 0.01, 40.10, 124.31 + i * 0.01, 40.11) for i in range(3)],
        crs=4326,
    )
    m = maps.offline_map(cells)
    maps.polygons(m, cells, "cells", fill=("bin", maps.BIN_COLOURS), tooltip=["code", "bin"])
    maps.legend(m, "Gi*", [("hot", maps.BIN_COLOURS[3]), ("cold", maps.BIN_COLOURS[-2])])
    page_file = tmp_path / "map.html"
    m.save(str(page_file))
    asked: list[str] = []
    with browser_context(viewport={"width": 800, "height": 600}) as ctx:
        page = ctx.new_page()

        def refuse(route):
            asked.append(route.request.url)
            route.abort()

        page.route("http://**/*", refuse)
        page.route("https://**/*", refuse)
        page.goto(page_file.as_uri())
        page.wait_for_selector("path.leaflet-interactive")
        fills = page.eval_on_selector_all(
            "path.leaflet-interactive", "ps => ps.map(p => p.getAttribute('fill'))"
        )
        assert page.evaluate("typeof L") == "object"
        assert page.locator("text=Gi*").is_visible()
        page.screenshot(path=str(ARTIFACTS / "notebook-map.png"))
    assert sorted(fills) == sorted([maps.BIN_COLOURS[3], maps.BIN_COLOURS[0], maps.BIN_COLOURS[-2]])
    assert asked == []  # nothing was even attempted from the network
