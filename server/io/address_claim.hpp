// A claim on a listen address that every process on this host (in this network namespace)
// can see: an abstract-namespace Unix socket named after the address. SO_REUSEPORT lets any
// process of the same user join a UDP port's socket group, so without a claim a second
// server started with the same config would bind next to the first and silently take half
// its traffic. The kernel drops a claim when its process exits, however it exits (no stale
// lock file after kill -9).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/result.hpp"

namespace turnscout::server {

class AddressClaims {
 public:
  AddressClaims() = default;
  AddressClaims(const AddressClaims&) = delete;
  AddressClaims& operator=(const AddressClaims&) = delete;
  ~AddressClaims();

  // Claims each address with a port (port 0 is skipped: claim the bound address once the
  // kernel has picked it). On a conflict nothing more is claimed and the error names the
  // address and, when the kernel tells, the process holding it.
  Result<void, std::string> claim(std::span<const Endpoint> addresses);
  void release();
  size_t size() const { return fds_.size(); }

  // The claim's name (without the leading NUL of the abstract namespace).
  static std::string name_of(const Endpoint& address);

 private:
  std::vector<int> fds_;
};

}  // namespace turnscout::server
