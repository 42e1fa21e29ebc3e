"""The benchmark suite's order of targets within a round (bench/suite.py round_order): over
its cycle of rounds, every target runs right after every other one equally often and in
every position equally often, so no target's figures always carry what one particular
target leaves behind (Pgpool-II's 200 processes, direct PostgreSQL's exiting backends)."""
import collections
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import suite  # noqa: E402


@pytest.mark.parametrize("targets", [
    ["direct", "pgbouncer", "pgpool", "sluice"],
    ["direct", "pgbouncer", "sluice"],
    ["pgbouncer", "sluice"],
    ["PgBouncer", "A", "B"],
    ["a", "b", "c", "d", "e"],
])
def test_every_target_follows_every_other_equally_often(targets):
    n = len(targets)
    cycle = n if n % 2 == 0 else 2 * n
    rounds = [suite.round_order(targets, r) for r in range(cycle)]
    for order in rounds:
        assert sorted(order) == sorted(targets)
    follows = collections.Counter((o[i], o[i + 1]) for o in rounds for i in range(n - 1))
    assert set(follows) == {(a, b) for a in targets for b in targets if a != b}
    assert len(set(follows.values())) == 1, follows
    positions = collections.Counter((o[i], i) for o in rounds for i in range(n))
    assert len(set(positions.values())) == 1, positions
    # The next cycle repeats this one.
    assert [suite.round_order(targets, r + cycle) for r in range(cycle)] == rounds
