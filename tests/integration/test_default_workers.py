"""`workers = 0` (the default) starts one worker per usable core but one: the proxy shares its
machine with the application or PostgreSQL, and a worker on every core competes with them."""
from __future__ import annotations

import os
import re

from conftest import APP_DB, APP_USER


def started_workers(proxy) -> int:
    m = re.search(r"with (\d+) workers on", proxy.log())
    assert m, proxy.log()
    return int(m.group(1))


def test_default_leaves_one_usable_core_free(sluice):
    proxy = sluice()
    assert started_workers(proxy) == max(1, len(os.sched_getaffinity(0)) - 1)
    assert proxy.psql("SELECT 6 * 7", user=APP_USER, dbname=APP_DB) == "42"


def test_a_set_count_is_kept(sluice):
    proxy = sluice(workers=3)
    assert started_workers(proxy) == 3
    assert proxy.psql("SELECT 6 * 7", user=APP_USER, dbname=APP_DB) == "42"
