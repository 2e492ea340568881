#include "tools/cluster/virtual_node.hpp"

#include <uv.h>

#include "server/io/log_events.hpp"

namespace turnscout::cluster {

VirtualNode::VirtualNode(uv_loop_s* loop, const Clock& clock)
    : node_(loop, clock, server::log_events()) {}

Result<Endpoint, std::string> VirtualNode::bind(const Endpoint& at) {
  auto bound = node_.bind({&at, 1}, UdpSocketOptions{});
  if (!bound) return unexpected(bound.error());
  local_ = bound->front();
  return local_;
}

Result<void, std::string> VirtualNode::start(const server::ServerConfig& config, uint64_t seed) {
  return node_.start(config, seed);
}

}  // namespace turnscout::cluster
