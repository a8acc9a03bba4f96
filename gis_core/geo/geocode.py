"""Geocoding: a written or spoken address → ranked standard addresses; a point → the address there.

Which part does what: `gis_core.geo.addresses` normalises the text (NFKC, `cn2an` for Chinese
numerals) and splits off the numbered parts; known administrative names (the grid index's
streets and communities) are stripped from the front; PostgreSQL then scores every road and
alias against what is left, by `pg_trgm` word similarity over character-and-bigram text (the
name anywhere in the text, a character wrong) and `fuzzystrmatch` edit distance against the
text's tail (where a road's name stands); the best few are followed down their door plates,
buildings, units and rooms by number. A candidate's score is its name's similarity, scaled by
how many of the given numbers were found under it.

What the caller may see: a unit or room is given only inside the caller's reach (a grid
worker's grids, an officer's area, the whole district for the command centre); elsewhere the
candidate stops at its building.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from gis_core.geo.addresses import MAX_LENGTH, Parsed, grams, has_words, normalize, parse
from gis_core.geo.lookup import GridIndex, workers_seen_by
from gis_core.platform.auth import User
from gis_core.platform.errors import InvalidInput

#: a name must be at least this similar to the text to be followed
MIN_NAME_SCORE = 0.6
NAME_CANDIDATES = 8
MAX_FRONTIER = 400
_RANK = {"road": 0, "door": 1, "building": 2, "unit": 3, "room": 4}
_PROVINCE_CITY = re.compile(r"^(?:.{2,7}?(?:省|自治区))?(?:.{2,7}?市)?")

# Every road's and alias's name against the text: pg_trgm word similarity of its grams within the
# text's (the administrative prefix stripped, so a street called 七道街道 does not name 七道街), and
# edit distance to the text's tail, where a road's name stands (the prefix kept, for a village
# group's name begins with its village's), with one character more or less.
_NAMES = sa.text(
    """
    SELECT n.base_id, a.level,
           greatest(word_similarity(n.grams, :grams),
                    1 - least(levenshtein(n.name, right(:text, length(n.name))),
                              levenshtein(n.name, right(:text, length(n.name) + 1)),
                              levenshtein(n.name, right(:text, length(n.name) - 1)))::float8
                        / length(n.name)) AS score
    FROM (SELECT id AS base_id, search_name AS name, search_grams AS grams FROM address WHERE level = 'road'
          UNION ALL
          SELECT address_id, search_name, search_grams FROM address_alias) AS n
    JOIN address a ON a.id = n.base_id
    WHERE length(n.name) > 0
    ORDER BY score DESC, a.id
    LIMIT :n
    """
)
_CHILDREN = sa.text(
    "SELECT id, parent_id, level, number, label <> '' AS labelled FROM address WHERE parent_id = ANY(:ids) "
    "ORDER BY parent_id, number, id"
)
_IN_REACH = (
    "(coalesce((SELECT (onegrid_reach()).everything), false)"
    " OR a.street_id = (SELECT (onegrid_reach()).street_id)"
    " OR a.community_id = (SELECT (onegrid_reach()).community_id)"
    " OR a.grid_id = ANY ((SELECT (onegrid_reach()).grids)::int[]))"
)
_DETAILS = sa.text(
    "SELECT a.id, a.code, a.level, a.full_name, ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat, "  # noqa: S608
    f"{_IN_REACH} AS in_reach FROM address a WHERE a.id = ANY(:ids)"
)


@dataclass(frozen=True)
class _Node:
    id: int
    level: str
    path: dict[str, int]  # level → address id, from the base down
    numbers: dict[str, int]  # what the text gave, by level (an estate's door number read as its building's)
    score: float
    matched: float = 0.0
    blind: bool = False  # reached without a number, only to look for deeper ones

    def child(self, cid: int, level: str, matched: float, blind: bool) -> _Node:
        return replace(self, id=cid, level=level, path={**self.path, level: cid},
                       matched=self.matched + matched, blind=blind)  # fmt: skip

    @property
    def final_score(self) -> float:
        given = len(self.numbers)
        return self.score * (0.5 + 0.5 * self.matched / given) if given else self.score


@dataclass
class Candidate:
    """One ranked answer: a standard address, its point and score, and its grid with its workers."""

    code: str
    level: str
    address: str
    lon: float
    lat: float
    score: float
    street: dict[str, str] | None = None  # code and name
    community: dict[str, str] | None = None
    grid: dict[str, str] | None = None
    workers: list[dict[str, Any]] = field(default_factory=list)


@lru_cache(maxsize=4)
def _admin_names(index: GridIndex) -> tuple[tuple[str, str, str], ...]:
    """(normalised name, level, code) of the district, its streets and communities, longest first."""
    seen: dict[str, tuple[str, str, str]] = {}
    for i in range(len(index)):
        loc = index.location(i)
        for level, unit in (("district", loc.district), ("street", loc.street), ("community", loc.community)):
            seen[normalize(unit.name)] = (normalize(unit.name), level, unit.code)
    return tuple(sorted(seen.values(), key=lambda t: -len(t[0])))


def _strip_admin(place: str, index: GridIndex) -> tuple[str, str | None]:
    """`place` without its administrative prefix; the last community named in it, if any."""
    community = None
    names = _admin_names(index)
    changed = True
    while changed and place:
        changed = False
        for name, level, code in names:
            if place.startswith(name) and len(place) > 0:
                place, changed = place[len(name) :], True
                community = code if level == "community" else community
                break
    return place, community


def check_query(q: str, where: str = "query.q") -> None:
    """A 400 problem for an address that cannot be one: empty, punctuation only, or too long."""
    if len(q) > MAX_LENGTH:
        raise InvalidInput(f"an address has at most {MAX_LENGTH} characters; this has {len(q)}", where=where)
    if not q.strip() or not has_words(q):
        raise InvalidInput("the address is empty or holds only punctuation", where=where)


def geocode(conn: sa.Connection, index: GridIndex, user: User, q: str, limit: int = 5) -> list[Candidate]:
    """Ranked standard addresses for the text `q`, best first (empty when nothing is close)."""
    check_query(q)
    parsed = parse(normalize(q))
    # the names are scored against the text with its prefix (a village group's name begins with
    # its village's); the prefix only tells whether a community alone was named
    text = _PROVINCE_CITY.sub("", parsed.place, count=1)
    place, community = _strip_admin(text, index)
    nodes: list[_Node] = []
    if place:
        # a few hundred names: the planner's cost of their functions started two parallel workers,
        # which spent 9 of the query's 12 ms starting up
        conn.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))
        names = conn.execute(_NAMES, {"text": text, "grams": grams(place), "n": NAME_CANDIDATES})
        for base_id, level, score in names:
            if score >= MIN_NAME_SCORE:
                nodes.append(
                    _Node(base_id, level, {level: base_id}, _numbers_for(level, parsed), float(score))
                )
    if not nodes:
        return _community(conn, index, user, community) if community and not place else []
    found = _descend(conn, nodes)
    best: dict[int, _Node] = {}
    for n in sorted(found, key=lambda n: (-n.final_score, -_RANK[n.level], n.id)):
        best.setdefault(n.id, n)
    ranked = list(best.values())[: max(1, limit)]
    return _describe(conn, index, user, ranked)


def _numbers_for(level: str, parsed: Parsed) -> dict[str, int]:
    """The numbers to follow below a base: under an estate (a door plate) a door number is a building's."""
    numbers = parsed.numbers
    if level == "door" and "door" in numbers and "building" not in numbers:
        numbers["building"] = numbers.pop("door")
    return {k: v for k, v in numbers.items() if _RANK[k] > _RANK[level]}


def _descend(conn: sa.Connection, frontier: list[_Node]) -> list[_Node]:
    """Follow each base down by the numbers given; what was reached only blindly is dropped."""
    for level in ("door", "building", "unit", "room"):
        expand = [n for n in frontier if _RANK[n.level] < _RANK[level]]
        if not expand:
            continue
        kids: dict[int, list[tuple[int, str, int, bool]]] = {}
        for cid, parent, clevel, number, labelled in conn.execute(_CHILDREN, {"ids": [n.id for n in expand]}):
            kids.setdefault(parent, []).append((cid, clevel, number, labelled))
        keep = [n for n in frontier if _RANK[n.level] >= _RANK[level]]
        for n in expand:
            here = [k for k in kids.get(n.id, []) if k[1] == level]
            want = n.numbers.get(level)
            deeper = any(_RANK[lv] > _RANK[level] for lv in n.numbers)
            if not here:
                keep.append(n)
            elif want is not None:
                hits = [k for k in here if k[2] == want]
                # a number said for a building that has none (the door plate's only one) is weaker evidence
                keep += [n.child(k[0], level, 1.0 if k[3] else 0.5, False) for k in hits] or [n]
            elif len(here) == 1:
                keep.append(n.child(here[0][0], level, 0.0, n.blind))
            elif deeper:
                keep += [n.child(k[0], level, 0.0, True) for k in here] + [n]
            else:
                keep.append(n)
        frontier = keep[:MAX_FRONTIER]
    return [n for n in frontier if not n.blind]


def _describe(conn: sa.Connection, index: GridIndex, user: User, nodes: list[_Node]) -> list[Candidate]:
    """The candidates' addresses and places; a unit or room beyond the caller's reach becomes its building."""
    ids = {i for n in nodes for i in n.path.values()}
    rows = {r.id: r for r in conn.execute(_DETAILS, {"ids": list(ids)})}
    out = []
    for n in nodes:
        row = rows[n.id]
        if n.level in ("unit", "room") and not row.in_reach and "building" in n.path:
            row = rows[n.path["building"]]
        out.append(
            _candidate(index, user, row.code, row.level, row.full_name, row.lon, row.lat, n.final_score)
        )
    return out


def _candidate(
    index: GridIndex, user: User, code: str, level: str, name: str, lon: float, lat: float, score: float
) -> Candidate:
    loc = index.locate(lon, lat)
    c = Candidate(code, level, name, lon, lat, round(score, 3))
    if loc is not None:
        c.street, c.community, c.grid = (
            {"code": u.code, "name": u.name} for u in (loc.street, loc.community, loc.grid)
        )
        c.workers = [
            {"code": w.code, "name": w.name, "phone": w.phone, "is_primary": w.is_primary}
            for w in workers_seen_by(user, loc)
        ]
    return c


def _community(conn: sa.Connection, index: GridIndex, user: User, code: str) -> list[Candidate]:
    """A community named with nothing below it: its own point."""
    row = conn.execute(
        sa.text(
            "SELECT c.code, c.name, s.name AS street, d.name AS district, ST_X(p) AS lon, ST_Y(p) AS lat "
            "FROM community c JOIN street s ON s.id = c.street_id JOIN district d ON d.id = s.district_id, "
            "ST_PointOnSurface(c.geom) AS p WHERE c.code = :c"
        ),
        {"c": code},
    ).first()
    if row is None:
        return []
    name = f"{row.district}{row.street}{row.name}"
    return [_candidate(index, user, row.code, "community", name, row.lon, row.lat, 1.0)]


_REVERSE = sa.text(
    f"""
    SELECT a.code, a.level, a.full_name, ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat, {_IN_REACH} AS in_reach,
           ST_Distance(a.geom::geography, p::geography) AS distance_m
    FROM ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS p,
         LATERAL (
            (SELECT a.* FROM address a WHERE a.level = 'door' AND ST_DWithin(a.geom, p, :deg)
             ORDER BY a.geom <-> p LIMIT 1)
            UNION ALL
            (SELECT a.* FROM building b JOIN address a ON a.building_id = b.id AND a.level = 'building'
             WHERE ST_Intersects(b.geom, p) LIMIT 1)
         ) AS a
    """  # noqa: S608 - fixed text
)


def reverse(
    conn: sa.Connection, index: GridIndex, user: User, lon: float, lat: float, radius_m: float = 300.0
) -> dict[str, Any]:
    """The address at a point: the building it falls in (if any), the nearest door plate within `radius_m`."""
    found: dict[str, Any] = {"building": None, "door": None}
    for r in conn.execute(_REVERSE, {"lon": lon, "lat": lat, "deg": radius_m / 70_000}):
        if r.level == "door" and r.distance_m > radius_m:
            continue
        c = _candidate(index, user, r.code, r.level, r.full_name, r.lon, r.lat, 1.0)
        found[r.level] = {**c.__dict__, "distance_m": round(float(r.distance_m), 1)}
    return found
