"""Gi* and contiguity weights against PySAL (libpysal, esda) on the demo grids."""

import geopandas as gpd
import numpy as np
import pytest
import sqlalchemy as sa
from libpysal.weights import Queen, fill_diagonal

from gis_core.geo.spatial_stats import gi_star, queen_weights, with_self


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


def test_conditional_randomisation_never_draws_the_unit_itself():
    from gis_core.geo.spatial_stats import conditional_randomization

    cells = np.array([shapely_box(x, y) for y in range(6) for x in range(6)])
    w = queen_weights(cells)
    for i in (0, 14, 35):
        marker = np.zeros(36)
        marker[i] = 1.0
        sims = conditional_randomization(marker, w, 500, seed=1)
        assert sims[i].max() == 0  # unit i never sees itself
        others = np.delete(sims, i, axis=0)
        # every other unit draws i now and then: share ≈ k / (n - 1)
        k = np.diff(w.indptr)[np.arange(36) != i]
        assert np.allclose(others.mean(axis=1), k / 35, atol=0.08)


def shapely_box(x, y):
    import shapely

    return shapely.box(x, y, x + 1, y + 1)


def assert_same_pseudo_p(ours, theirs, permutations):
    """Two independent sets of draws: their pseudo p-values differ by Monte Carlo noise only (5 σ)."""
    p = (ours + theirs) / 2
    sigma = np.sqrt(2 * p * (1 - p) / permutations)
    assert np.all(np.abs(ours - theirs) <= 5 * sigma + 2 / permutations)
    assert np.mean(np.abs(ours - theirs)) < 0.03


def test_gi_star_permutations_agree_with_esda_within_monte_carlo_error():
    from esda.getisord import G_Local
    from libpysal.weights import WSP

    cells = np.array([shapely_box(x, y) for y in range(12) for x in range(12)])
    rng = np.random.default_rng(7)
    y = rng.poisson(5, 144).astype(float)
    y[[50, 51, 62, 63]] += 25
    w = with_self(queen_weights(cells))
    ours = gi_star(y, w, permutations=999, seed=3)
    ref = G_Local(
        y,
        WSP(w).to_W(silence_warnings=True),
        transform="B",
        star=None,
        permutations=999,
        seed=3,
    )
    assert np.max(np.abs(ours.z - ref.Zs)) < 1e-9
    assert_same_pseudo_p(ours.p_sim, ref.p_sim, 999)
    assert set(np.flatnonzero(ours.q_sim <= 0.05)) >= {50, 51, 62, 63}


def test_fdr_is_benjamini_hochberg_as_esda_reads_it():
    from esda import fdr as esda_fdr

    from gis_core.geo.spatial_stats import fdr

    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    q = fdr(p)
    # hand computed: q_(i) = min_{j>=i} p_(j) * m / j
    assert q == pytest.approx([0.01, 0.04, 0.084, 0.084, 0.084, 0.1, 0.10571428, 0.216, 0.216, 0.216])
    threshold = esda_fdr(p, 0.05)
    assert np.array_equal(q <= 0.05, p <= threshold)


@pytest.mark.parametrize("how", ["r", "b"])
def test_local_moran_equals_esda(grids, how):
    from esda.moran import Moran_Local

    from gis_core.geo.spatial_stats import local_moran

    y = grids["n"].to_numpy(float)
    queen = Queen.from_dataframe(grids, use_index=False, silence_warnings=True)
    ref = Moran_Local(y, queen, transformation=how.upper(), permutations=999, seed=11)
    ours = local_moran(y, queen.sparse, how=how, permutations=999, seed=5)
    assert np.max(np.abs(ours.Is - ref.Is)) < 1e-9
    assert np.array_equal(ours.q, ref.q)
    assert np.max(np.abs(ours.expected - ref.EI)) < 1e-9
    assert np.max(np.abs(ours.variance - ref.VI)) < 1e-9
    assert_same_pseudo_p(ours.p_sim, ref.p_sim, 999)


def _levels(text):
    """'.HH.h' → Gi* bins: H hot at 99 %, h hot at 90 % (not enough), C cold at 99 %, . nothing."""
    return np.array([{"H": 3, "h": 1, "C": -3, ".": 0}[ch] for ch in text])


@pytest.mark.parametrize(
    ("levels", "z", "want"),
    [
        ("........H", None, ("hot", "new")),
        ("......HHH", None, ("hot", "consecutive")),
        ("HHHHHHHHHH", np.linspace(2, 6, 10), ("hot", "intensifying")),
        ("HHHHHHHHHH", np.linspace(6, 2, 10), ("hot", "diminishing")),
        ("HHHHHHHHHH", np.array([3, 4, 3, 4, 3, 4, 3, 4, 3, 4.0]), ("hot", "persistent")),
        ("HHHHHHHHHH.", None, ("hot", "historical")),
        ("..H..H.h.H", None, ("hot", "sporadic")),
        ("..C..H...H", None, ("hot", "oscillating")),
        ("........C", None, ("cold", "new")),
        ("CCCCCCCCCC", np.linspace(-2, -6, 10), ("cold", "intensifying")),
        ("...H.h....", None, (None, None)),
        ("..........", None, (None, None)),
    ],
)
def test_emerging_patterns_follow_their_definitions(levels, z, want):
    from gis_core.geo.spatial_stats import emerging

    level = _levels(levels)
    if z is None:
        z = level.astype(float)
    assert emerging(z[None, :], level[None, :]) == [want]


def test_mann_kendall_is_kendalls_tau_against_time():
    from gis_core.geo.spatial_stats import mann_kendall

    assert mann_kendall(np.arange(10.0))[0] == pytest.approx(1.0)
    tau, p = mann_kendall(np.array([1, 3, 2, 5, 4, 6, 8, 7, 9, 10.0]))
    # discordant pairs: (3,2), (5,4), (8,7); S = 42 - 3 = 39 of 45 pairs
    assert tau == pytest.approx(39 / 45) and p < 0.01
    assert mann_kendall(np.full(6, 2.0)) == (0.0, 1.0)
