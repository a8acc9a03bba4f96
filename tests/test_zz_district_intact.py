"""The last ordinary test: the shared test district still has the outlines the generator made.

Tests that change boundaries for good (edits, imports that write) run on a district of their
own; one that forgot would change what every later test sees, as the boundary edits once did
(144 tests failed after them in a clean-clone run).
"""

import sqlalchemy as sa

from data.demo_district import generate
from tests.conftest import TEST_SCALE, TEST_SEED


def test_the_shared_district_still_has_the_generated_outlines(engine):
    data = generate(scale=TEST_SCALE, seed=TEST_SEED)
    for level in ("street", "community", "grid"):
        table = data.table(level)
        code, geom = table.columns.index("code"), table.columns.index("geom")
        made = {r[code]: bytes.fromhex(r[geom]) for r in table.rows}
        with engine.connect() as c:
            stored = {
                r.code.strip(): bytes(r.g)
                for r in c.execute(sa.text(f"SELECT code, ST_AsEWKB(geom) AS g FROM {level}"))  # noqa: S608
            }
        assert stored.keys() == made.keys(), f"{level}: units added or removed by a test"
        changed = sorted(k for k in made if stored[k] != made[k])
        assert not changed, f"{level}: outlines changed by a test: {changed[:5]}"
