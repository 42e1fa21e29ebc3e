#include "allocation_count.h"

#include <cstdlib>
#include <new>

namespace {

thread_local size_t allocations = 0;

}  // namespace

namespace sluice::test {

size_t allocations_on_this_thread() { return allocations; }

}  // namespace sluice::test

// The replacements: malloc and free, counted. (The library's other forms of new, nothrow
// and array, call this one.)
void* operator new(std::size_t size) {
  ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

void operator delete(void* p) noexcept { std::free(p); }

void operator delete(void* p, std::size_t /*size*/) noexcept { std::free(p); }
