"""Standard addresses as people write and say them: one normal form, and the parts of an address.

The same `normalize` is applied to the names stored (`address.search_name`) and to what a
caller typed or a hotline operator heard, so "锦山路十二号三单元五〇二" and "锦山路１２号3单元502"
meet in one spelling: full-width characters folded (NFKC), Chinese numerals turned into digits
(`cn2an`, from PyPI), spaces and most punctuation dropped. `parse` then peels the numbered parts
off the end — room, unit, building, door plate — and what is left is the place: a road, an
estate (小区) or a village group, perhaps behind an administrative prefix.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import cn2an

#: The levels of a standard address, coarsest first (a community is matched by name only).
LEVELS = ("road", "door", "building", "unit", "room")
#: the level each level hangs from (a room straight under its building where it has no units)
PARENTS = {"door": ("road",), "building": ("door",), "unit": ("building",), "room": ("unit", "building")}
#: Longest text taken as an address: a spoken address is a line, not a page.
MAX_LENGTH = 200

_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]|【[^】]*】")
_DROP = re.compile(r"[\s,.;:'\"!?、，。；：“”‘’！？·()\[\]【】<>《》_/\\|*~`^$%&=+{}@]")
_DASH = re.compile(r"[‐-―−－~～—]")
_HAS_CN_NUMERAL = re.compile(r"[零〇一二两三四五六七八九十百千]")

# The numbered tail, peeled from the end one part at a time (after `normalize`).
_BUILDING_UNIT_ROOM = re.compile(r"(\d+)-(\d+)-(\d+)(?:室|户|号)?$")
_UNIT_ROOM = re.compile(r"(\d+)(?:单元|-)(\d+)(?:室|户|号)?$")
_ROOM = re.compile(r"(\d+)(?:室|户)$")
_UNIT = re.compile(r"(\d+)单元$")
_BUILDING = re.compile(r"(\d+)(?:号楼|栋|幢|座|#楼|#|楼)$")
_DOOR = re.compile(r"(\d+)号(?:院)?$")
# words after the last numbered part describe the place, they do not address it (12号附近, 3号楼后面)
_TRAILING_WORDS = re.compile(r"^(.*\d(?:号楼|号院|号|栋|幢|座|单元|室|户|#楼|#|楼))\D+$")
_ROOM_AFTER_BUILDING = re.compile(r"(\d+)(?:号楼|栋|幢|座|#楼|#|楼)(\d{3,4})(?:室|户|号)?$")


def normalize(text: str) -> str:
    """`text` in the geocoder's one spelling (see the module's docstring); bracketed asides dropped."""
    s = unicodedata.normalize("NFKC", text)
    s = _DASH.sub("-", s)
    s = _BRACKETS.sub("", s)
    s = _DROP.sub("", s).lower()
    if _HAS_CN_NUMERAL.search(s):
        try:
            s = cn2an.transform(s, "cn2an")
        except (ValueError, KeyError, IndexError):  # text cn2an cannot read keeps its numerals
            pass
    return s


@dataclass(frozen=True)
class Parsed:
    """An address split into its place text and numbered parts (None: not given)."""

    place: str
    door: int | None = None
    building: int | None = None
    unit: int | None = None
    room: int | None = None

    @property
    def numbers(self) -> dict[str, int]:
        """The numbered parts given, by level."""
        given = {"door": self.door, "building": self.building, "unit": self.unit, "room": self.room}
        return {k: v for k, v in given.items() if v is not None}


def parse(normalized: str) -> Parsed:
    """The parts of a `normalize`d address (锦山路12号3号楼2单元502室, 锦山路12号3-2-502, 锦绣花园3栋502)."""
    s = normalized
    if m := _TRAILING_WORDS.match(s):
        s = m[1]
    door = building = unit = room = None
    if m := _BUILDING_UNIT_ROOM.search(s):
        building, unit, room = int(m[1]), int(m[2]), int(m[3])
        s = s[: m.start()]
    elif m := _UNIT_ROOM.search(s):
        unit, room = int(m[1]), int(m[2])
        s = s[: m.start()]
    elif m := _ROOM_AFTER_BUILDING.search(s):
        building, room = int(m[1]), int(m[2])
        s = s[: m.start()]
    elif m := _ROOM.search(s):
        room = int(m[1])
        s = s[: m.start()]
    if unit is None and (m := _UNIT.search(s)):
        unit = int(m[1])
        s = s[: m.start()]
    if building is None and (m := _BUILDING.search(s)):
        building = int(m[1])
        s = s[: m.start()]
    if m := _DOOR.search(s):
        door = int(m[1])
        s = s[: m.start()]
    return Parsed(s.rstrip("-#"), door, building, unit, room)


def grams(normalized: str) -> str:
    """Each character followed by the bigram it starts, space-separated (锦山路 → 锦 锦山 山 山路 路).

    What pg_trgm compares instead of the bare name (migration 0028 says why).
    """
    n = len(normalized)
    return " ".join(normalized[i] + (f" {normalized[i : i + 2]}" if i < n - 1 else "") for i in range(n))


def has_words(text: str) -> bool:
    """Whether `text` holds anything but punctuation and spaces (an address must)."""
    return bool(normalize(text)) and bool(re.search(r"[\w]", unicodedata.normalize("NFKC", text)))


#: how each numbered level is written in a standard address
LABELS = {"door": "{}号", "building": "{}号楼", "unit": "{}单元", "room": "{}室"}


def label(level: str, n: int) -> str:
    """Level `level`'s number `n` as a standard address writes it (12号, 3号楼, 2单元, 502室)."""
    return LABELS[level].format(n)
