// What the fuzz targets share: REQUIRE(condition) for the promises a target checks. A
// broken one names its line, then aborts so that libFuzzer keeps the input.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace turnscout::fuzz {

[[noreturn]] inline void broken_promise(const char* file, int line) {
  std::fprintf(stderr, "broken promise at %s:%d\n", file, line);
  std::abort();
}

}  // namespace turnscout::fuzz

#define REQUIRE(condition)                                                   \
  do {                                                                       \
    if (!(condition)) ::turnscout::fuzz::broken_promise(__FILE__, __LINE__); \
  } while (false)
