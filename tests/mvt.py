"""Helpers to address and decode Mapbox Vector Tiles in tests."""

import math

import mapbox_vector_tile
import shapely
from pyproj import Transformer

HALF = 20037508.342789244
TO_3857 = Transformer.from_crs(4326, 3857, always_xy=True)


def tile_of(lon, lat, z):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def bounds(z, x, y):
    size = 2 * HALF / 2**z
    minx, maxy = -HALF + x * size, HALF - y * size
    return minx, maxy - size, minx + size, maxy


def decode(data, z, x, y):
    """Decoded layers with geometries back in EPSG:3857."""
    minx, miny, maxx, maxy = bounds(z, x, y)
    size = maxx - minx
    out = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    for layer in out.values():
        ext = layer["extent"]
        for f in layer["features"]:
            g = shapely.geometry.shape(f["geometry"])
            f["shape"] = shapely.transform(
                g, lambda c, e=ext: [[minx + px / e * size, maxy - py / e * size] for px, py in c]
            )
    return out


def to_3857(geom):
    return shapely.transform(geom, lambda c: list(zip(*TO_3857.transform(c[:, 0], c[:, 1]))))
