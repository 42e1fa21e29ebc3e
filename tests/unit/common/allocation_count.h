// Counts the unit tests' heap allocations (operator new) per thread, so a test can check
// that a hot path allocates nothing. allocation_count.cc replaces the global operator new
// of the unit test binary for that.
#pragma once

#include <cstddef>

namespace sluice::test {

// operator new calls made by this thread so far.
size_t allocations_on_this_thread();

}  // namespace sluice::test
