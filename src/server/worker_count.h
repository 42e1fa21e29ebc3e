// How many workers `workers = 0` starts.
//
// A proxy usually shares its machine with the application or with PostgreSQL. A worker per
// core then competes with them for every core: on a 2-core machine running pgbench and
// PostgreSQL too, two workers gave 1.02 x PgBouncer's TPS at -c 200 and one gave 1.19 x,
// at three quarters of the CPU per transaction, because each of two workers sleeps and
// wakes more often. One worker relays about 38,000 transactions a second, so leaving one
// core free costs little where there are many.
#pragma once

namespace sluice::server {

// Cores this process may run on: its CPU affinity mask (taskset, cpusets), at least 1.
int usable_cores();

// Workers for `workers = 0` on a machine with `cores` usable cores: all but one, at least 1.
int default_workers(int cores);

}  // namespace sluice::server
