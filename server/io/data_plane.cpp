#include "server/io/data_plane.hpp"

#include <memory>

namespace turnscout::server {

DataPlane::DataPlane(uv_loop_t* loop, ProbeResponder& responder, ControlSink& sink,
                     IoCounters& counters, const Clock& clock)
    : loop_(loop), responder_(responder), sink_(sink), counters_(counters), clock_(clock) {}

Result<void, std::string> DataPlane::add_port(BoundSocket socket, const Endpoint& configured) {
  auto port = UdpPort::open(loop_, socket, *this, counters_.udp);
  if (!port) return unexpected(port.error());
  ports_.push_back(Port{std::move(*port), configured});
  return {};
}

void DataPlane::on_datagram(UdpPort& port, const Endpoint& remote, std::span<const uint8_t> bytes) {
  const TimePoint now = clock_.now();
  const auto wall_s = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(clock_.wall_now().time_since_epoch())
          .count());
  const Outcome outcome = responder_.handle(now, wall_s, remote, bytes, port.batch().slot());
  counters_.admission_clients.store(responder_.admission().tracked_clients(),
                                    std::memory_order_relaxed);
  switch (outcome.what) {
    case Disposition::kReply:
      port.batch().commit(remote, outcome.size);
      break;
    case Disposition::kForward:
      if (!sink_.forward(port.local(), remote, bytes, outcome.known)) {
        counters_.forward_dropped.add();
      }
      break;
    case Disposition::kDrop:
      break;
  }
}

Result<void, std::string> DataPlane::add_ports(std::span<const BoundSocket> sockets,
                                               std::span<const Endpoint> configured) {
  for (size_t i = 0; i < sockets.size(); ++i) {
    if (auto added = add_port(sockets[i], configured[i]); !added) {
      close_sockets(sockets.subspan(i + 1));
      return added;
    }
  }
  return {};
}

UdpPort* DataPlane::port_for(const Endpoint& local, const Endpoint& remote) {
  for (Port& p : ports_) {
    if (p.configured == local || p.port->local() == local) return p.port.get();
  }
  for (Port& p : ports_) {
    if (p.port->local().family == remote.family) return p.port.get();
  }
  return nullptr;
}

void DataPlane::close(std::function<void()> on_closed) {
  // Shared by the ports' callbacks; the last one calls `on_closed`.
  auto left = std::make_shared<size_t>(ports_.size() + 1);
  auto one_closed = [left, on_closed = std::move(on_closed)] {
    if (--*left == 0 && on_closed) on_closed();
  };
  for (Port& p : ports_)
    p.port->close(one_closed);
  one_closed();
}

}  // namespace turnscout::server
