// The hot path of one worker: its UDP ports (one per listen address) and the responder
// that answers from the current snapshot. Replies are queued on the port the request came
// in on and leave in the port's next sendmmsg; anything that is not a probe goes to the
// ControlSink. Lives on one loop and one thread.
#pragma once

#include <uv.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"
#include "common/udp_port.hpp"
#include "common/udp_socket.hpp"
#include "server/core/responder.hpp"
#include "server/io/io_counters.hpp"

namespace turnscout::server {

class ControlSink {
 public:
  virtual ~ControlSink() = default;
  // A datagram the responder returned as kForward; `known` when it comes from one of this
  // node's children. `bytes` is valid during the call only. False if it was dropped
  // (counted by the caller).
  virtual bool forward(const Endpoint& local, const Endpoint& remote,
                       std::span<const uint8_t> bytes, bool known) = 0;
};

class DataPlane final : public UdpPortHandler {
 public:
  // `responder`, `sink`, `counters` and `clock` must outlive the DataPlane.
  DataPlane(uv_loop_t* loop, ProbeResponder& responder, ControlSink& sink, IoCounters& counters,
            const Clock& clock);

  // Adopts `socket` (listening on `configured` in the config) on this loop.
  Result<void, std::string> add_port(BoundSocket socket, const Endpoint& configured);
  // add_port() for each pair; after a failure the remaining sockets are closed.
  Result<void, std::string> add_ports(std::span<const BoundSocket> sockets,
                                      std::span<const Endpoint> configured);

  void on_datagram(UdpPort& port, const Endpoint& remote, std::span<const uint8_t> bytes) override;

  // The port to send a control datagram from: the one whose configured or bound address is
  // `local`, else the first in `remote`'s family; nullptr if there is none.
  UdpPort* port_for(const Endpoint& local, const Endpoint& remote);
  size_t port_count() const { return ports_.size(); }
  UdpPort& port(size_t i) { return *ports_[i].port; }

  // Closes every port; the DataPlane must live until `on_closed` ran from the loop.
  void close(std::function<void()> on_closed = {});

 private:
  uv_loop_t* loop_;
  ProbeResponder& responder_;
  ControlSink& sink_;
  IoCounters& counters_;
  const Clock& clock_;
  struct Port {
    std::unique_ptr<UdpPort> port;
    Endpoint configured;  // As the config says it (port 0 possible).
  };
  std::vector<Port> ports_;
};

}  // namespace turnscout::server
