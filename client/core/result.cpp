#include "client/core/result.hpp"

#include <utility>

#include "base/endpoint.hpp"

namespace turnscout::client {

Address to_address(const Endpoint& endpoint) {
  if (!endpoint.valid()) return {};
  const Endpoint plain = unmap_v4(endpoint);
  return {ip_to_string(plain), plain.port};
}

DiscoveryResult failed_result(Status status, std::string failure) {
  DiscoveryResult out;
  out.status = status;
  out.failure = std::move(failure);
  return out;
}

}  // namespace turnscout::client
