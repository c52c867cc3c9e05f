"""Monitoring's counting engine on its own: the compiled tally kernel, ``tally_batch``, the coarse
PSI counts and the quantile sketch, against numpy and hand-computed values (no Spark, no MLflow).

The semantics asserted are the documented ones (:mod:`lakeops.tally.bins`,
:mod:`lakeops.tally._kernel`): with edges ``e_0 < ... < e_{m-1}`` a numeric value
lands in cell ``j`` holding ``(e_{j-1}, e_j]`` (right-closed; cell 0 is ``(-inf, e_0]``, cell
``m`` is ``(e_{m-1}, inf)``), and null and NaN land in the null bucket, last. That is
``np.searchsorted(edges, x, side="left")`` for every non-NaN value.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from lakeops.tally._kernel import lookup_table, tally_numeric
from lakeops.tally.bins import NULL, OTHER
from lakeops.tally.counts import (
    KMV_K,
    SKETCH_QUANTILES,
    TallyPlan,
    coarse_counts,
    empty_tally,
    merge,
    quantiles,
    tally_batch,
)

# ---------------------------------------------------------------- helpers (the numpy reference)


def numpy_counts(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Cell counts by ``np.searchsorted(side='left')`` + ``np.bincount``, then the null bucket (NaN)."""
    present = x[~np.isnan(x)]
    cells = np.searchsorted(edges, present, side="left")
    counts = np.bincount(cells, minlength=len(edges) + 1)
    return np.append(counts, np.isnan(x).sum())


def with_nulls(x: np.ndarray, null: np.ndarray, dtype: pa.DataType = pa.float64()) -> pa.Array:
    """``x`` as an Arrow array whose rows ``null`` are null (not NaN)."""
    return pa.array(x, type=dtype, mask=null)


def kernel(x: np.ndarray, edges: np.ndarray, codes: np.ndarray | None = None, rows: int = 1):
    """Call the kernel directly, as :func:`tally_batch` does: ``(counts, profile)``."""
    edges = np.asarray(edges, dtype=np.float64)
    codes = np.zeros((0, x.size), dtype=np.int64) if codes is None else codes
    counts = np.zeros((rows, edges.size + 2), dtype=np.int64)
    profile = np.array([0.0, 0.0, 0.0, np.inf, -np.inf])
    tally_numeric(np.ascontiguousarray(x, dtype=np.float64), edges, *lookup_table(edges), codes, counts, profile)
    return counts, profile


def heavy_tailed_edges(rng: np.random.Generator, n: int = 200_000) -> np.ndarray:
    """A sketch grid (SKETCH_QUANTILES of a lognormal sample with sigma 3): the edges crowd
    near zero, so many fall into one cell of the kernel's lookup grid."""
    sample = rng.lognormal(0.0, 3.0, n)
    return np.unique(np.quantile(sample, SKETCH_QUANTILES))


def adversarial_values(rng: np.random.Generator, edges: np.ndarray, n: int) -> np.ndarray:
    """Random values, plus every edge, the float either side of every edge, the extremes beyond
    the grid, zeros and NaN: the values where a cell lookup goes wrong if it goes wrong."""
    lo, hi = edges[0], edges[-1]
    span = hi - lo
    parts = [
        rng.uniform(lo - 0.1 * span, hi + 0.1 * span, n),
        rng.choice(edges, n // 4),
        edges,
        np.nextafter(edges, -np.inf),
        np.nextafter(edges, np.inf),
        [lo - 1.0, lo - 1e300, hi + 1.0, hi * 1e6 + 1e300, 0.0, -0.0, np.nan, np.nan],
    ]
    x = np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])
    return rng.permutation(x)


# ---------------------------------------------------------------- hand-computed cases


def test_six_values_hand_counted():
    plan = TallyPlan(numeric={"x": (1.0, 2.0, 3.0)})
    batch = pa.table({"x": pa.array([0.5, 1.0, 1.5, 3.0, 3.5, None], pa.float64())})
    t = tally_batch(batch, plan, ["x"])["x"]
    # (-inf, 1]: 0.5 and 1.0 (an edge belongs to the cell it closes); (1, 2]: 1.5; (2, 3]: 3.0;
    # (3, inf): 3.5; null: None.
    assert t.counts.tolist() == [[2, 1, 1, 1, 1]]
    assert t.zeros == 0
    assert t.total == pytest.approx(0.5 + 1.0 + 1.5 + 3.0 + 3.5)
    assert t.total_sq == pytest.approx(0.25 + 1.0 + 2.25 + 9.0 + 12.25)
    assert (t.vmin, t.vmax) == (0.5, 3.5)
    assert t.distinct_estimate() == 5  # fewer than KMV_K distinct values: exact


def test_six_values_with_nan_zeros_and_infinities():
    plan = TallyPlan(numeric={"x": (-1.0, 0.0, 2.0)})
    x = [0.0, -0.0, float("nan"), -math.inf, math.inf, 2.0]
    t = tally_batch(pa.table({"x": pa.array(x, pa.float64())}), plan, ["x"])["x"]
    # (-inf, -1]: -inf; (-1, 0]: 0.0 and -0.0; (0, 2]: 2.0; (2, inf): inf; null: the NaN.
    assert t.counts.tolist() == [[1, 2, 1, 1, 1]]
    assert t.zeros == 2
    assert (t.vmin, t.vmax) == (-math.inf, math.inf)
    assert t.distinct_estimate() == 4  # 0.0 and -0.0 are one value: {0, -inf, inf, 2}


def test_six_values_in_slices_hand_counted():
    # Counts rows: whole population, then region = eu, us, OTHER, NULL.
    plan = TallyPlan(numeric={"x": (10.0,)}, slices={"region": ("eu", "us")})
    assert plan.slice_rows() == [(None, None), ("region", "eu"), ("region", "us"), ("region", OTHER),
                                 ("region", NULL)]
    batch = pa.table({"x": pa.array([5.0, 10.0, 11.0, None, 20.0, 1.0], pa.float64()),
                      "region": ["eu", "us", "eu", "eu", "apac", None]})
    t = tally_batch(batch, plan, ["x"])["x"]
    assert t.counts.tolist() == [
        [3, 2, 1],  # whole: 5, 10, 1 in (-inf, 10]; 11, 20 above; one null
        [1, 1, 1],  # eu: 5; 11; null
        [1, 0, 0],  # us: 10 (the edge itself, so the lower cell)
        [0, 1, 0],  # apac is not kept: OTHER
        [1, 0, 0],  # region null: NULL
    ]


def test_slice_column_absent_from_the_batch_leaves_its_rows_at_zero():
    plan = TallyPlan(numeric={"x": (0.0,)}, slices={"region": ("eu",)})
    t = tally_batch(pa.table({"x": [-1.0, 1.0, 2.0]}), plan, ["x"])["x"]
    assert t.counts.tolist() == [[1, 2, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]


def test_categorical_six_values_hand_counted():
    plan = TallyPlan(categorical={"c": ("a", "b")})
    t = tally_batch(pa.table({"c": ["a", "c", None, "b", "a", "a"]}), plan, ["c"])["c"]
    assert t.counts.tolist() == [[3, 1, 1, 1]]  # a, b, OTHER (c), NULL
    assert t.distinct == {"a", "b", "c"} and t.distinct_estimate() == 3


def test_int_column_hand_counted():
    plan = TallyPlan(numeric={"n": (0.5, 2.0, 3.0)})
    t = tally_batch(pa.table({"n": pa.array([0, 1, 2, 3, 4, None], pa.int64())}), plan, ["n"])["n"]
    # (-inf, 0.5]: 0; (0.5, 2]: 1, 2; (2, 3]: 3; (3, inf): 4; null.
    assert t.counts.tolist() == [[1, 2, 1, 1, 1]]
    assert t.zeros == 1 and t.total == 10.0 and t.total_sq == 30.0
    assert (t.vmin, t.vmax) == (0.0, 4.0)


# ---------------------------------------------------------------- degenerate inputs


@pytest.mark.parametrize("edges", [(), (0.0,), (0.0, 1.0), tuple(SKETCH_QUANTILES)])
def test_empty_input(edges):
    plan = TallyPlan(numeric={"x": edges}, slices={"s": ("a",)})
    t = tally_batch(pa.table({"x": pa.array([], pa.float64()), "s": pa.array([], pa.string())}), plan, ["x"])["x"]
    assert t.counts.shape == (4, len(edges) + 2) and not t.counts.any()
    assert (t.zeros, t.total, t.total_sq, t.vmin, t.vmax) == (0, 0.0, 0.0, math.inf, -math.inf)
    assert t.kmv.size == 0 and t.distinct_estimate() == 0


def test_all_null_input():
    t = tally_batch(pa.table({"x": pa.array([None] * 5, pa.float64())}), TallyPlan(numeric={"x": (1.0, 2.0)}),
                    ["x"])["x"]
    assert t.counts.tolist() == [[0, 0, 0, 5]]
    assert (t.vmin, t.vmax, t.distinct_estimate()) == (math.inf, -math.inf, 0)


def test_a_single_edge_makes_two_value_cells():
    # One edge e: (-inf, e], (e, inf), null. The kernel's lookup table is the degenerate one here.
    plan = TallyPlan(numeric={"x": (2.0,)})
    x = np.array([-5.0, 1.9, 2.0, np.nextafter(2.0, 3.0), 7.0, np.nan])
    t = tally_batch(pa.table({"x": x}), plan, ["x"])["x"]
    assert t.counts.tolist() == [[3, 2, 1]]
    assert t.counts[0].tolist() == numpy_counts(x, np.array([2.0])).tolist()


def test_no_edges_make_one_value_cell():
    t = tally_batch(pa.table({"x": [-1.0, 0.0, 1e9, None]}), TallyPlan(numeric={"x": ()}), ["x"])["x"]
    assert t.counts.tolist() == [[3, 1]]


# ---------------------------------------------------------------- against numpy on random data


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("grid", ["uniform", "sketch_normal", "heavy_tail", "near_ties"])
def test_kernel_matches_searchsorted_and_bincount(seed, grid):
    rng = np.random.default_rng(seed)
    if grid == "uniform":
        edges = np.linspace(-3.0, 3.0, 11)
    elif grid == "sketch_normal":  # the production shape: ~1000 quantiles of a baseline sample
        edges = np.unique(np.quantile(rng.normal(0.0, 1.0, 50_000), SKETCH_QUANTILES))
    elif grid == "heavy_tail":
        edges = heavy_tailed_edges(rng)
    else:  # edges one float apart, and a wide gap: rounding in the grid lookup would show here
        base = np.sort(rng.uniform(0.0, 1.0, 50))
        edges = np.unique(np.concatenate([base, np.nextafter(base, 2.0), [1e6]]))
    assert np.all(np.diff(edges) > 0)
    x = adversarial_values(rng, edges, 20_000)
    counts, profile = kernel(x, edges)
    assert counts[0].tolist() == numpy_counts(x, edges).tolist()
    present = x[~np.isnan(x)]
    assert profile[0] == np.count_nonzero(present == 0.0)
    assert profile[3] == present.min() and profile[4] == present.max()


@pytest.mark.parametrize("dtype", [pa.float64(), pa.float32(), pa.int64(), pa.int32(), pa.int8()])
def test_tally_batch_matches_numpy_for_each_column_type(dtype):
    rng = np.random.default_rng(7)
    n = 30_000
    if pa.types.is_integer(dtype):
        values = rng.integers(-100, 100, n)
        # Integer edges that values hit exactly, and half-integers they never hit.
        edges = np.array([-50.0, -10.5, -1.0, 0.0, 3.0, 3.5, 40.0, 99.0])
    else:
        values = rng.standard_t(3, n)
        edges = np.unique(np.quantile(rng.standard_t(3, 10_000), SKETCH_QUANTILES))
        values[: len(edges)] = edges  # values equal to edges (exact in float32 only by chance)
    null = rng.random(n) < 0.05
    arrow = with_nulls(values, null, dtype)
    # The reference sees what the column holds: its values as float64, NaN where null.
    as_float = np.where(null, np.nan, np.asarray(arrow.fill_null(0).to_numpy(), dtype=np.float64))
    t = tally_batch(pa.table({"v": arrow}), TallyPlan(numeric={"v": tuple(edges)}), ["v"])["v"]
    assert t.counts[0].tolist() == numpy_counts(as_float, edges).tolist()
    assert t.counts[0, -1] == null.sum()
    present = as_float[~null]
    assert t.zeros == np.count_nonzero(present == 0)
    assert t.total == pytest.approx(present.sum(), rel=1e-9, abs=1e-6)
    assert t.total_sq == pytest.approx(np.square(present).sum(), rel=1e-9)
    assert (t.vmin, t.vmax) == (present.min(), present.max())


def test_nan_and_null_both_land_in_the_null_bucket():
    x = np.array([1.0, np.nan, 2.0, np.nan, 3.0, 4.0])
    null = np.array([False, False, False, False, True, True])
    t = tally_batch(pa.table({"x": with_nulls(x, null)}), TallyPlan(numeric={"x": (2.5,)}), ["x"])["x"]
    assert t.counts.tolist() == [[2, 0, 4]]  # 1, 2 below; two NaN and two nulls; nothing left above
    assert (t.vmin, t.vmax, t.total) == (1.0, 2.0, 3.0)  # the profile skips NaN and null alike


@pytest.mark.parametrize("seed", [0, 1])
def test_slice_rows_match_numpy_on_each_subset(seed):
    rng = np.random.default_rng(seed)
    n = 20_000
    edges = np.unique(np.quantile(rng.gamma(2.0, 3.0, 20_000), np.linspace(0.05, 0.95, 19)))
    x = rng.gamma(2.0, 3.0, n)
    x[rng.random(n) < 0.03] = np.nan
    kept = {"region": ("eu", "us", "apac"), "tier": ("gold", "free")}
    region = rng.choice(["eu", "us", "apac", "latam", None], n, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    tier = rng.choice(["gold", "free", "trial", None], n, p=[0.2, 0.6, 0.15, 0.05])
    plan = TallyPlan(numeric={"x": tuple(edges)}, categorical={"tier": kept["tier"]}, slices=kept)
    batch = pa.table({"x": x, "region": pa.array(region.tolist(), pa.string()),
                      "tier": pa.array(tier.tolist(), pa.string())})
    tallies = tally_batch(batch, plan, ["x", "tier"])
    t = tallies["x"]
    rows = plan.slice_rows()
    assert t.counts.shape == (len(rows), len(edges) + 2)
    columns = {"region": region, "tier": tier}
    for r, (key, value) in enumerate(rows):
        if key is None:
            mask = np.ones(n, dtype=bool)
        else:
            col = columns[key]
            if value == NULL:
                mask = np.array([v is None for v in col])
            elif value == OTHER:
                mask = np.array([v is not None and v not in kept[key] for v in col])
            else:
                mask = col == value
        assert t.counts[r].tolist() == numpy_counts(x[mask], edges).tolist(), (key, value)
        # The categorical column (here also a slice column) against a plain count of its subset.
        cat = tier[mask].tolist()
        expected = [sum(v == k for v in cat) for k in kept["tier"]]
        expected += [sum(v is not None and v not in kept["tier"] for v in cat), sum(v is None for v in cat)]
        assert tallies["tier"].counts[r].tolist() == expected, (key, value)
    # Each slice column partitions the population: its rows add up to row 0.
    split = 1 + len(kept["region"]) + 2
    assert t.counts[1:split].sum(axis=0).tolist() == t.counts[split:].sum(axis=0).tolist() == t.counts[0].tolist()


def test_batches_merge_to_the_tally_of_the_whole():
    rng = np.random.default_rng(3)
    x = rng.lognormal(0.0, 1.0, 9_000)
    x[::17] = np.nan
    x[::23] = 0.0
    edges = tuple(np.unique(np.quantile(rng.lognormal(0.0, 1.0, 9_000), SKETCH_QUANTILES)))
    plan = TallyPlan(numeric={"x": edges})
    whole = tally_batch(pa.table({"x": x}), plan, ["x"])["x"]
    parts: dict = {}
    for chunk in np.array_split(x, 5):
        parts = merge(parts, tally_batch(pa.table({"x": chunk}), plan, ["x"]))
    merged = merge({"x": empty_tally(plan, "x")}, parts)["x"]
    assert merged.counts.tolist() == whole.counts.tolist() == [numpy_counts(x, np.array(edges)).tolist()]
    assert merged.zeros == whole.zeros == np.count_nonzero(x == 0)
    assert merged.total == pytest.approx(np.nansum(x))
    assert (merged.vmin, merged.vmax) == (np.nanmin(x), np.nanmax(x))
    assert merged.kmv.tolist() == whole.kmv.tolist()


def test_chunked_columns_are_tallied_like_one_array():
    x = np.arange(-5.0, 5.0)
    table = pa.Table.from_batches([pa.record_batch({"x": x[:4]}), pa.record_batch({"x": x[4:]})])
    assert table.column("x").num_chunks == 2
    t = tally_batch(table, TallyPlan(numeric={"x": (-2.0, 2.0)}), ["x"])["x"]
    assert t.counts.tolist() == [[4, 4, 2, 0]]  # -5..-2; -1..2; 3, 4


# ---------------------------------------------------------------- distinct-count sketch


def test_distinct_estimate_exact_below_k_and_within_its_error_above():
    few = np.repeat(np.arange(500.0), 7)
    t = tally_batch(pa.table({"x": few}), TallyPlan(numeric={"x": (0.0,)}), ["x"])["x"]
    assert t.distinct_estimate() == 500
    rng = np.random.default_rng(11)
    many = rng.permutation(np.repeat(rng.normal(size=50_000), 3))  # 50,000 distinct, each thrice
    t = tally_batch(pa.table({"x": many}), TallyPlan(numeric={"x": (0.0,)}), ["x"])["x"]
    assert t.kmv.size == KMV_K
    # Relative standard error about 1/sqrt(k) (3 %); four of them as the test's margin.
    assert abs(t.distinct_estimate() / 50_000 - 1) < 4 / math.sqrt(KMV_K)


# ---------------------------------------------------------------- coarse PSI counts


def test_coarse_counts_hand_computed():
    sketch = (1.0, 2.0, 3.0, 4.0, 5.0)
    # Sketch cells (-inf,1], (1,2], (2,3], (3,4], (4,5], (5,inf), null.
    cells = np.array([[1, 2, 3, 4, 5, 6, 7], [0, 0, 1, 0, 0, 0, 2]])
    # PSI bins (-inf,2], (2,4], (4,inf), null.
    assert coarse_counts(sketch, (2.0, 4.0), cells).tolist() == [[3, 7, 11, 7], [0, 1, 0, 2]]
    with pytest.raises(ValueError, match="subset"):
        coarse_counts(sketch, (2.5,), cells)


@pytest.mark.parametrize("seed", [0, 1])
def test_coarse_counts_equal_counting_on_the_psi_edges(seed):
    rng = np.random.default_rng(seed)
    baseline = rng.normal(5.0, 2.0, 40_000)
    sketch = tuple(np.unique(np.quantile(baseline, SKETCH_QUANTILES)))
    psi = tuple(sketch[i] for i in range(50, len(sketch), 100))  # every hundredth sketch edge: a subset
    x = adversarial_values(rng, np.array(sketch), 10_000)
    t = tally_batch(pa.table({"x": x}), TallyPlan(numeric={"x": sketch}), ["x"])["x"]
    assert coarse_counts(sketch, psi, t.counts).tolist() == [numpy_counts(x, np.array(psi)).tolist()]


# ---------------------------------------------------------------- quantile sketch


def test_quantiles_hand_computed():
    edges = (0.0, 10.0, 20.0)
    counts = [0, 4, 4, 2]  # (-inf,0], (0,10], (10,20], (20,inf): n = 10, rows in [2, 30]
    probs = (0.0, 0.2, 0.4, 0.5, 0.8, 0.9, 1.0)
    # p=0.2: rank 2 of 4 in (0,10], clipped to [vmin=2, 10]: 2 + 0.5 * 8 = 6.
    # p=0.4: the whole first cell: its upper edge 10. p=0.5: 1 of 4 into (10,20]: 12.5.
    # p=0.8: 20. p=0.9: 1 of 2 into (20, vmax=30]: 25. The ends are vmin and vmax.
    assert quantiles(edges, counts, probs, vmin=2.0, vmax=30.0) == pytest.approx([2, 6, 10, 12.5, 20, 25, 30])
    assert quantiles(edges, [0, 0, 0, 0], (0.5,), vmin=math.inf, vmax=-math.inf) == [None]


def test_quantiles_of_a_constant_column_are_the_constant():
    assert quantiles((1.0, 2.0, 3.0), [0, 0, 9, 0], (0.05, 0.5, 0.95), vmin=2.5, vmax=2.5) == [2.5, 2.5, 2.5]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", ["normal", "lognormal", "discrete"])
def test_quantiles_within_one_sketch_cell_of_numpy(seed, shape):
    """The documented bound: counts are exact per cell and the estimate is interpolated within the
    cell holding the quantile, so it is at most that cell's width (clipped to the column's range)
    from the true sample quantile, and its rank is off by at most the cell's share of the rows."""
    rng = np.random.default_rng(seed)
    draw = {"normal": lambda n: rng.normal(10.0, 3.0, n), "lognormal": lambda n: rng.lognormal(0.0, 1.5, n),
            "discrete": lambda n: rng.poisson(4.0, n).astype(float)}[shape]
    edges = np.unique(np.quantile(draw(100_000), SKETCH_QUANTILES))  # the baseline's grid
    x = draw(50_000) * (1.1 if seed == 2 else 1.0)  # seed 2: a drifted day on the baseline's grid
    t = tally_batch(pa.table({"x": x}), TallyPlan(numeric={"x": tuple(edges)}), ["x"])["x"]
    probs = [0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999]
    found = quantiles(edges, t.counts[0, :-1], probs, vmin=t.vmin, vmax=t.vmax)
    cells = numpy_counts(x, edges)[:-1]
    sorted_x = np.sort(x)
    for p, q in zip(probs, found, strict=True):
        true = float(np.quantile(x, p, method="inverted_cdf"))  # the sorted value of rank ceil(p * n)
        c = int(np.searchsorted(edges, true, side="left"))
        lo = max(edges[c - 1] if c > 0 else -np.inf, t.vmin)
        hi = min(edges[c] if c < len(edges) else np.inf, t.vmax)
        assert lo <= q <= hi, (p, q, lo, hi)  # in the cell of the true quantile
        assert abs(q - true) <= hi - lo + 1e-12
        below = np.searchsorted(sorted_x, q, side="right") / x.size
        assert abs(below - p) <= cells[c] / x.size + 1e-12, (p, q)
    if shape != "discrete":
        # On a continuous column of the baseline's distribution a cell holds about 0.1 % of the
        # rows: every estimated quantile is within a few tenths of a percent in rank.
        ranks = np.searchsorted(sorted_x, found) / x.size
        assert np.max(np.abs(ranks - probs)) < (0.004 if seed < 2 else 0.01)
