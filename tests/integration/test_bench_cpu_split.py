"""bench/cpu_split.py's figures: the /proc readings it takes (a process's user and system
CPU apart, its threads' context switches, the machine's idle ticks) move as the process
and the machine do, and its Sluice/PgBouncer ratios pair the rounds as the suite does."""
import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import cpu_split  # noqa: E402
import procstat  # noqa: E402


def test_user_time_grows_with_work_and_system_time_is_apart():
    user0, sys0 = procstat.user_system_seconds(os.getpid())
    # A fixed amount of arithmetic (no system calls), about 0.3 s of CPU however busy the
    # machine is.
    total = sum(sum(i * i for i in range(10_000)) for _ in range(600))
    user1, sys1 = procstat.user_system_seconds(os.getpid())
    assert total > 0
    assert user1 - user0 >= 0.1
    assert sys1 - sys0 < (user1 - user0) / 2


def test_context_switches_count_every_thread_that_sleeps():
    before = procstat.context_switches(os.getpid())
    sleeper = threading.Thread(target=lambda: [time.sleep(0.002) for _ in range(50)])
    sleeper.start()
    for _ in range(50):
        time.sleep(0.002)
    # Read while the other thread still lives: its switches count only while it does.
    during = procstat.context_switches(os.getpid())
    sleeper.join()
    assert during - before >= 50


def test_machine_idle_ticks_advance():
    total0, idle0 = procstat.machine_idle_ticks()
    time.sleep(0.3)
    total1, idle1 = procstat.machine_idle_ticks()
    assert total1 > total0
    assert 0 <= idle1 - idle0 <= total1 - total0


def test_ratios_pair_rounds_and_missing_figures_say_so():
    runs = {
        "direct": [{"tps": 10.0, "idle_pct": 1.0}, {"tps": 12.0, "idle_pct": 2.0}],
        "pgbouncer": [{"tps": 1.0, "user_us": 2.0, "sys_us": 8.0, "switches": 0.5, "idle_pct": 5.0},
                      {"tps": 4.0, "user_us": 2.0, "sys_us": 8.0, "switches": 0.5, "idle_pct": 6.0}],
        "sluice": [{"tps": 2.0, "user_us": 4.0, "sys_us": 4.0, "switches": 0.25, "idle_pct": 7.0},
                   {"tps": 4.0, "user_us": 4.0, "sys_us": 6.0, "switches": 0.25, "idle_pct": 8.0}],
    }
    args = argparse.Namespace(pgbench=["-S", "-c", "16"], rounds=2, seconds=1)
    table = cpu_split.report(runs, args)
    ratio_row = next(line for line in table.splitlines() if line.startswith("| Sluice / PgBouncer"))
    cells = [c.strip() for c in ratio_row.strip("|").split("|")]
    # TPS: the rounds' ratios are 2.0 and 1.0, median 1.5 (the medians' ratio would be 1.2).
    assert cells[1:6] == ["1.500", "2.000", "0.625", "0.500", "n/a"]
    direct_row = next(line for line in table.splitlines() if line.startswith("| direct"))
    assert [c.strip() for c in direct_row.strip("|").split("|")][2:6] == ["n/a"] * 4
