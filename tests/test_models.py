"""The ORM mappings describe the migrated tables exactly (no drift)."""

import pytest
import sqlalchemy as sa

from gis_core.geo.models import Base


@pytest.mark.parametrize("table", sorted(Base.metadata.tables))
def test_mapping_matches_the_migrated_table(engine, table):
    mapped = Base.metadata.tables[table]
    real = {c["name"]: c for c in sa.inspect(engine).get_columns(table)}
    assert set(mapped.columns.keys()) == set(real), f"{table}: columns differ"
    for col in mapped.columns:
        assert col.nullable == real[col.name]["nullable"], f"{table}.{col.name} nullability"
        if col.name == "geom":
            assert str(real[col.name]["type"]).upper().startswith(f"GEOMETRY({col.type.geometry_type}")
