"""Score: the champion scores feature partitions into ``predictions.<model>``.

- :mod:`~lakeops.score.run`: the scoring run (checks, skips, chunks, commits).
- :mod:`~lakeops.score.batch`: the batch scorer that runs inside Spark tasks.
- :mod:`~lakeops.score.forest` and its compiled kernel :mod:`~lakeops.score._kernel`.

Reads ``features.<model>`` and the registry; writes ``predictions.<model>``.
"""
