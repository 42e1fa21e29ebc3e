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


def test_ceiling_adds_the_proxys_cpu_to_what_direct_costs_the_machine():
    # Direct costs the machine 60 us per transaction; a proxy using 15 us more leaves room
    # for at most 60 / 75 of direct's TPS.
    assert cpu_split.ceiling_to_direct(60.0, 15.0) == 0.8
    assert cpu_split.ceiling_to_direct(None, 15.0) is None
    runs = {
        "direct": [{"tps": 100.0, "machine_us": 50.0}, {"tps": 200.0, "machine_us": 70.0}],
        "pgbouncer": [{"tps": 50.0, "user_us": 2.0, "sys_us": 18.0, "machine_us": 80.0},
                      {"tps": 100.0, "user_us": 2.0, "sys_us": 18.0, "machine_us": 90.0}],
        "sluice": [{"tps": 80.0, "user_us": 5.0, "sys_us": 10.0, "machine_us": 75.0},
                   {"tps": 100.0, "user_us": 3.0, "sys_us": 10.0, "machine_us": 85.0}],
    }
    table = cpu_split.report(runs, argparse.Namespace(pgbench=["-S"], rounds=2, seconds=1))
    rows = {cells[0]: cells[1:] for cells in
            ([c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()
             if line.startswith("| "))}
    # Measured: the rounds' ratios to direct (0.5 and 0.5; 0.8 and 0.5). Ceiling: direct's
    # median 60 us against 60 + 20 us (PgBouncer) and 60 + 14 us (Sluice's medians 4 + 10).
    assert rows["pgbouncer"][-2:] == ["0.500", "0.750"]
    assert rows["sluice"][-2:] == ["0.650", "0.811"]
    # The machine's CPU, paired by round: 75/80 and 85/90, median 0.941.
    assert rows["Sluice / PgBouncer"][5] == "0.941"


def test_a_target_that_fails_every_round_says_so_and_the_others_still_report():
    runs = {
        "direct": [{"tps": 100.0, "machine_us": 50.0}],
        "pgbouncer": [{"failed": 'ERROR: prepared statement "P_0" already exists'}],
        "sluice": [{"tps": 80.0, "user_us": 5.0, "sys_us": 10.0, "machine_us": 75.0}],
    }
    table = cpu_split.report(runs, argparse.Namespace(pgbench=["-S"], rounds=1, seconds=1))
    lines = table.splitlines()
    assert next(line for line in lines if line.startswith("| pgbouncer |")).startswith(
        "| pgbouncer | fails | n/a |")
    assert next(line for line in lines if line.startswith("| Sluice / PgBouncer")).startswith(
        "| Sluice / PgBouncer | n/a |")
    assert "| sluice | 0.800 | 0.769 |" in lines
    assert cpu_split.round_summary(runs["pgbouncer"][0]).startswith("fails (ERROR: prepared")
