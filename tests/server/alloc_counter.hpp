// Counts allocations made through the global operator new in the binary that links
// alloc_counter.cpp, so tests can show that a hot path allocates nothing.
#pragma once

#include <cstdint>

namespace turnscout::test {

uint64_t allocation_count();

}  // namespace turnscout::test
