// Host-name lookups for the client driver: uv_getaddrinfo for IPv4 and IPv6 at once, run in
// libuv's thread pool and answered on the loop.
//
// Lifetime: each request block belongs to libuv until its callback, which frees it. A
// lookup that is abandoned (or whose NameLookups is destroyed) is cancelled if it has not
// started; if it has, it completes later on the loop and only frees itself. So the loop
// must run after the NameLookups is destroyed, as for a handle's close callback.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/result.hpp"

namespace turnscout::client {

using LookupId = uint64_t;

// Addresses of one name; the port of each is 0.
using LookupResult = Result<std::vector<Endpoint>, std::string>;

class NameLookups {
 public:
  // Addresses kept per name, in the order getaddrinfo ranks them, duplicates removed.
  static constexpr size_t kMaxAddresses = 8;

  // `done` is called once per lookup that was not abandoned, from the loop. It may start or
  // abandon lookups; it must not destroy the NameLookups.
  using Done = std::function<void(LookupId id, const std::string& host, LookupResult result)>;

  NameLookups(uv_loop_t* loop, Done done);
  ~NameLookups();  // Abandons every lookup still running.
  NameLookups(const NameLookups&) = delete;
  NameLookups& operator=(const NameLookups&) = delete;

  // Starts a lookup; the error is libuv's refusal to start it.
  Result<LookupId, std::string> start(const std::string& host);
  // Its `done` will not be called. No effect for a finished or unknown lookup.
  void abandon(LookupId id);
  size_t running() const { return running_.size(); }

  struct Request;  // The uv_getaddrinfo_t and what it is for.

 private:
  friend struct NameLookupCallbacks;
  void finished(Request* request, int status, addrinfo* res);

  uv_loop_t* loop_;
  Done done_;
  std::vector<Request*> running_;
  LookupId next_id_ = 1;
};

}  // namespace turnscout::client
