#include "tests/server/alloc_counter.hpp"

#include <openssl/crypto.h>

#include <atomic>
#include <cstdlib>
#include <new>

// Replacements of the global allocation functions, every unaligned form, so that each
// pointer is freed by the family that allocated it (AddressSanitizer checks that). They live
// in their own file so that no call site sees both them and its own inlined new/delete pair.
namespace {
std::atomic<uint64_t> g_allocations{0};

// OpenSSL allocates through its own functions (HMAC contexts, for one); counted too. They
// must be installed before OpenSSL's first allocation: at static initialisation, before
// main() and before any test touches a key.
void* counting_malloc(size_t size, const char*, int) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size);
}
void* counting_realloc(void* p, size_t size, const char*, int) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(p, size);
}
void plain_free(void* p, const char*, int) {
  std::free(p);
}
[[maybe_unused]] const bool g_openssl_counted =
    CRYPTO_set_mem_functions(counting_malloc, counting_realloc, plain_free) == 1;
}  // namespace

void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void* operator new(std::size_t size) {
  if (void* p = operator new(size, std::nothrow)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  return operator new(size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace turnscout::test {

uint64_t allocation_count() {
  return g_allocations.load(std::memory_order_relaxed);
}

}  // namespace turnscout::test
