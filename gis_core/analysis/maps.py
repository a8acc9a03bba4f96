"""Folium maps for notebooks that draw without a network: no basemap, Leaflet from npm.

folium's defaults fetch Leaflet, jQuery, Bootstrap and Font Awesome from CDNs and lay an
OpenStreetMap basemap under everything; command-centre networks are closed. These maps
carry Leaflet (the only library their layers need) inline from the project's `node_modules`
(`make` installs it) and draw the district's own boundaries as the background.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import cache
from typing import Any

import folium
import geopandas as gpd
from branca.element import MacroElement, Template

from gis_core.platform.settings import PROJECT_ROOT

LEAFLET = PROJECT_ROOT / "node_modules" / "leaflet" / "dist"

#: Gi* confidence bins (+3 … -3) in the usual hot/cold colours.
BIN_COLOURS = {
    3: "#b2182b",
    2: "#ef8a62",
    1: "#fddbc7",
    0: "#f7f7f7",
    -1: "#d1e5f0",
    -2: "#67a9cf",
    -3: "#2166ac",
}


@cache
def _data_url(name: str, mime: str) -> str:
    path = LEAFLET / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make setup` (npm ci) first")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def offline_map(bounds: gpd.GeoDataFrame | gpd.GeoSeries, height: str = "520px") -> folium.Map:
    """An empty map fitted to `bounds` (EPSG:4326), with no basemap and Leaflet inline."""
    m = folium.Map(tiles=None, control_scale=True, height=height, prefer_canvas=False)
    m.default_js = [("leaflet", _data_url("leaflet.js", "text/javascript"))]
    m.default_css = [("leaflet_css", _data_url("leaflet.css", "text/css"))]
    minx, miny, maxx, maxy = bounds.to_crs(4326).total_bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def polygons(
    m: folium.Map,
    frame: gpd.GeoDataFrame,
    name: str,
    fill: str | tuple[str, dict[Any, str]] = "#3388ff",
    line: str = "#555555",
    weight: float = 0.5,
    opacity: float = 0.6,
    tooltip: Sequence[str] = (),
    show: bool = True,
) -> folium.GeoJson:
    """Add `frame` as one layer; `fill` is a colour, or (column, {value: colour}) to colour by a column."""
    column, colours = (None, {}) if isinstance(fill, str) else fill

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        colour = fill if column is None else colours.get(feature["properties"][column], "#cccccc")
        return {"fillColor": colour, "color": line, "weight": weight, "fillOpacity": opacity}

    keep = [c for c in tooltip if c in frame.columns]
    props = list(dict.fromkeys([*keep, *([column] if column else [])]))
    layer = folium.GeoJson(
        frame[[*props, "geometry"]].to_crs(4326).to_json(),
        name=name,
        show=show,
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=keep) if keep else None,
    )
    layer.add_to(m)
    return layer


class _Legend(MacroElement):  # type: ignore[misc]
    """A Leaflet control holding fixed HTML, in the map's bottom-right corner."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: "bottomright"});
        {{ this.get_name() }}.onAdd = function () {
            var box = L.DomUtil.create("div");
            box.innerHTML = {{ this.html|tojson }};
            return box;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self, html: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.html = html


def legend(m: folium.Map, title: str, items: Sequence[tuple[str, str]]) -> None:
    """A legend box in the map's corner: (label, colour) rows under `title`."""
    rows = "".join(
        f'<div><span style="display:inline-block;width:12px;height:12px;background:{c};'
        f'border:1px solid #555;margin-right:6px"></span>{label}</div>'
        for label, c in items
    )
    style = "background:white;padding:6px 8px;font:12px sans-serif;border:1px solid #999"
    box = f'<div style="{style}"><b>{title}</b>{rows}</div>'
    m.add_child(_Legend(box))
