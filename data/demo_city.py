"""A city of demo districts side by side: Dandong's six county-level units, generated.

`onegrid demo load --districts N` loads the first N of `city(6)`. The first is the demo district
itself (Yuanbao: its real outline, streets and communities, `data.yuanbao`), so a one-district
load is what it was; the others are generated districts of about its size and make-up, with the
real unit's code and name, placed beside it on a 3 × 2 lattice (not where the real units lie:
the others are 3 to 67 times Yuanbao's area), each with generated street and town names.

Each district is generated alone (its own seed), then made to fit beside the ones before it:
`localise` gives its district-local codes (building B000001, worker W00001…) the unit's
six-digit prefix, and `shift_ids` moves the generator's 1-based row ids past those already
loaded, in every column that refers to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
from shapely.geometry import Polygon

from data import yuanbao
from data.names import PLACE


@dataclass(frozen=True)
class Street:
    """A street or town of a district, and its communities and villages when they are real."""

    code: str  # nine digits, e.g. 210602002
    name: str
    kind: str  # "street" | "town"
    communities: tuple[tuple[str, str, str], ...] = ()  # (12-digit code, name, kind); () → generated


@dataclass(frozen=True)
class DistrictUnit:
    """Where a generated district lies and what it is called."""

    code: str  # 12 digits, e.g. 210602000000
    name: str
    centre: tuple[float, float]  # lon, lat of the generator's anchor
    streets: tuple[Street, ...]  # four streets, then the town
    outline: Polygon | None = field(default=None, compare=False)  # WGS84; None → generated

    @property
    def prefix(self) -> str:
        """The six-digit code of the county-level unit (its resident ID numbers' region, too)."""
        return self.code[:6]


@cache
def yuanbao_unit() -> DistrictUnit:
    """The demo district: Yuanbao's real outline and units (read from node_modules once)."""
    streets = tuple(Street(code, name, kind, kids) for code, name, kind, kids in yuanbao.divisions())
    return DistrictUnit(yuanbao.CODE + "000000", "元宝区", yuanbao.URBAN_CENTRE, streets, yuanbao.outline())


#: Dandong's county-level units after Yuanbao (GB/T 2260 codes), in the order they are added
_OTHERS = [
    ("210603", "振兴区"),
    ("210604", "振安区"),
    ("210681", "东港市"),
    ("210682", "凤城市"),
    ("210624", "宽甸满族自治县"),
]
#: lattice spacing (degrees) around the middle of Yuanbao's outline (0.19° × 0.10°): a generated
#: outline spans at most ~15 km east-west and ~12 km north-south (0.18° × 0.11°), so neighbours
#: 0.2° (17 km) and 0.14° (15.6 km) apart never meet
_STEP_LON, _STEP_LAT = 0.2, 0.14


def _generated_streets(prefix: str) -> tuple[Street, ...]:
    """Four streets and a town, named from the place syllables (a stream per unit)."""
    rng = np.random.default_rng(int(prefix))
    names: list[str] = []
    while len(names) < 5:
        a, b = (PLACE[int(i)] for i in rng.integers(len(PLACE), size=2))
        if a != b and a + b not in names:
            names.append(a + b)
    streets = tuple(Street(f"{prefix}{k + 1:03d}", n + "街道", "street") for k, n in enumerate(names[:4]))
    return (*streets, Street(f"{prefix}100", names[4] + "镇", "town"))


def city(n: int) -> list[DistrictUnit]:
    """The first `n` units of the demo city (1 ≤ n ≤ 6)."""
    if not 1 <= n <= 1 + len(_OTHERS):
        raise ValueError(f"a demo city has 1 to {1 + len(_OTHERS)} districts, not {n}")
    first = yuanbao_unit()
    units = [first]
    assert first.outline is not None
    minx, miny, maxx, maxy = first.outline.bounds
    lon0, lat0 = (minx + maxx) / 2, (miny + maxy) / 2
    for k, (prefix, name) in enumerate(_OTHERS[: n - 1], start=1):
        col, row = k % 3, k // 3
        centre = (lon0 + col * _STEP_LON, lat0 - row * _STEP_LAT)
        units.append(DistrictUnit(prefix + "000000", name, centre, _generated_streets(prefix)))
    return units


#: codes unique only within one generated district: (table, column)
LOCAL_CODES = {
    "building": "code",
    "camera": "code",
    "cold_chain_site": "code",
    "key_point": "code",
    "worker": "code",
    "party_org": "code",
    "service_center": "code",
    "unit": "code",
    "incident": "code",
}
#: columns holding a generated row id of another table (ids are 1-based positions): → that table
ID_REFS = {
    ("road_vertex", "id"): "road_vertex",
    ("road", "source"): "road_vertex",
    ("road", "target"): "road_vertex",
    ("address", "parent_id"): "address",
    ("address", "building_id"): "building",
    ("address_alias", "address_id"): "address",
    ("person", "building_id"): "building",
    ("person", "address_id"): "address",
    ("unit", "building_id"): "building",
    ("unit", "address_id"): "address",
    ("cold_chain_camera", "site_id"): "cold_chain_site",
    ("cold_chain_camera", "camera_id"): "camera",
    ("cold_chain_reading", "site_id"): "cold_chain_site",
    ("worker_grid", "worker_id"): "worker",
    ("incident_event", "incident_id"): "incident",
}
#: the city's shared catalogue, loaded with the first district only
SHARED = {"department", "category"}


def localise(table: str, columns: list[str], rows: list[tuple], unit: DistrictUnit) -> list[tuple]:  # type: ignore[type-arg]
    """`rows` with their district-local code prefixed by the unit's six digits (`210603-B000001`)."""
    if table not in LOCAL_CODES:
        return rows
    k = columns.index(LOCAL_CODES[table])
    return [(*r[:k], f"{unit.prefix}-{r[k]}", *r[k + 1 :]) for r in rows]


def shift_ids(table: str, columns: list[str], rows: list[tuple], offsets: dict[str, int]) -> list[tuple]:  # type: ignore[type-arg]
    """`rows` with every id reference moved past the rows of earlier districts (`offsets`)."""
    moves = [(k, offsets.get(ID_REFS[(table, c)], 0)) for k, c in enumerate(columns) if (table, c) in ID_REFS]
    moves = [(k, d) for k, d in moves if d]
    if not moves:
        return rows
    out = []
    for row in rows:
        r = list(row)
        for k, d in moves:
            if r[k] is not None:
                r[k] += d
        out.append(tuple(r))
    return out
