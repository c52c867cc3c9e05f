"""Counting columns inside Spark tasks: the bucket counts and profiles behind baselines and drift.

- :mod:`~lakeops.tally.bins`: a column's buckets, frozen on a baseline (numeric edges
  or kept categories, then OTHER and NULL), and their ``ml.baselines`` indices.
- :mod:`~lakeops.tally.counts`: one pass over Arrow batches counts every column into
  its buckets, per slice, with a profile of each numeric column; tallies of tasks add up.
- :mod:`~lakeops.tally._kernel`: the compiled (numba) loop of numeric columns.

Training counts its rows to freeze ``ml.baselines`` and ``ml.baseline_sketches``;
monitoring counts each day against them with the same code. Both import this
package, so it is shared, like :mod:`lakeops.evaluate`; it imports nothing of a
stage. Reads and writes no tables.
"""
