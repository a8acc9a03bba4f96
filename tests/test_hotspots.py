"""Gi* and contiguity weights against PySAL (libpysal, esda) on the demo grids."""

import geopandas as gpd
import numpy as np
import pytest
import sqlalchemy as sa
from libpysal.weights import Queen, fill_diagonal

from gis_core.hotspots import gi_star, queen_weights, with_self


@pytest.fixture(scope="module")
def grids(engine):
    with engine.connect() as c:
        df = gpd.read_postgis(
            sa.text(
                "SELECT g.id, g.geom, (SELECT count(*) FROM incident i WHERE i.grid_id = g.id) AS n "
                "FROM grid g ORDER BY g.id"
            ),
            c,
            geom_col="geom",
        )
    return df


def test_queen_weights_hold_libpysals_and_only_touching_extras(grids):
    ours = queen_weights(grids.geometry.values).toarray()
    theirs, _ = Queen.from_dataframe(grids, use_index=False, silence_warnings=True).full()
    assert theirs.sum() > len(grids)  # the units really have neighbours
    assert np.all(ours >= theirs) and np.array_equal(ours, ours.T)
    geoms = grids.geometry.values
    for i, j in zip(*np.nonzero(ours - theirs)):  # corner-on-edge contacts libpysal's vertex rule misses
        assert geoms[i].boundary.distance(geoms[j].boundary) == 0


@pytest.mark.parametrize("transform", ["r", "b"])
def test_gi_star_equals_esda(grids, transform):
    from esda.getisord import G_Local

    y = grids["n"].to_numpy(float)
    queen = Queen.from_dataframe(grids, use_index=False, silence_warnings=True)
    ref = G_Local(y, fill_diagonal(queen, 1.0), transform=transform.upper(), star=None, permutations=0)
    ours = gi_star(y, with_self(queen.sparse, transform))  # the same weights
    assert np.max(np.abs(ours.z - ref.Zs)) < 1e-9
    assert np.max(np.abs(ours.g - ref.Gs)) < 1e-12
    assert np.max(np.abs(ours.p - ref.p_norm)) < 1e-9


def test_confidence_bins_follow_the_two_sided_p(grids):
    y = grids["n"].to_numpy(float)
    res = gi_star(y, with_self(queen_weights(grids.geometry.values)))
    two = 2 * res.p
    assert np.all((res.bin == 3) == ((two <= 0.01) & (res.z > 0)))
    assert np.all((np.abs(res.bin) >= 1) == (two <= 0.10))
    assert np.all(np.sign(res.bin[res.bin != 0]) == np.sign(res.z[res.bin != 0]))


def test_a_planted_cluster_is_hot_and_flat_counts_are_not():
    import shapely

    cells = np.array([shapely.box(x, y, x + 1, y + 1) for y in range(10) for x in range(10)])
    w = with_self(queen_weights(cells))  # binary
    assert w.sum() == 100 + 2 * (2 * 9 * 10 + 2 * 9 * 9)  # self + rook and diagonal pairs of a 10x10 lattice
    y = np.full(100, 5.0)
    hot = [44, 45, 54, 55]
    y[hot] = 60.0
    res = gi_star(y + np.arange(100) % 3, w)  # a little noise so the variance is not zero
    assert set(np.flatnonzero(res.bin == 3)) >= set(hot)
    assert np.all(res.bin[[0, 9, 90, 99]] <= 0)
    with pytest.raises(ValueError):
        gi_star(np.zeros(100), w)
