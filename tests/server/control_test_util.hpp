// Shared pieces of the control-plane tests: configs for small trees, a toy probing client,
// and builders for the Heartbeat/Leave datagrams a child would send.
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/sans_io.hpp"
#include "proto/error_response.hpp"
#include "proto/heartbeat.hpp"
#include "proto/message_view.hpp"
#include "proto/probe.hpp"
#include "server/core/config.hpp"

namespace turnscout::server::testing {

inline constexpr uint16_t kPort = 3479;
inline const WallTime kWallStart{std::chrono::milliseconds{FakeClock::kDefaultWallStartMs}};

inline Endpoint addr(uint8_t c, uint8_t d, uint16_t port = kPort) {
  return Endpoint::v4(10, 0, c, d, port);
}

inline std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A node listening on `listen`, with the given parents and static children.
inline ServerConfig node_config(std::string name, Endpoint listen, std::vector<Endpoint> parents,
                                std::vector<StaticChildConfig> children = {}) {
  ServerConfig c;
  c.name = std::move(name);
  c.listen = {listen};
  c.advertise = {listen};
  for (const Endpoint& p : parents)
    c.parents.push_back({p});
  c.children = std::move(children);
  c.admission.tiers = {TierConfig{"free", 0, 1000, 1000}};
  return c;
}

inline ServerConfig leaf_config(std::string name, Endpoint listen, std::vector<Endpoint> parents,
                                uint16_t load_permille) {
  ServerConfig c = node_config(name, listen, std::move(parents));
  c.services = {"turn:" + name + ".example.org:3478?transport=udp"};
  c.load.static_permille = load_permille;
  return c;
}

// Sends Probe requests of a chosen size and keeps every reply with its size.
class ProbeClient final : public SansIoNode {
 public:
  struct Reply {
    Endpoint from;
    size_t size = 0;
    size_t request_size = 0;
    proto::ProbeResponse response;
  };

  explicit ProbeClient(Endpoint local) : local_(local) {}

  void probe(const Endpoint& server, size_t pad_to = proto::kRecommendedRequestSize,
             uint16_t children_wanted = 0) {
    proto::ProbeRequest request;
    request.transaction_id = {static_cast<uint8_t>(sent_.size() + 1), 0x5a};
    request.pad_to = pad_to;
    request.children_wanted = children_wanted;
    std::vector<uint8_t> out(2048);
    auto size = proto::encode_probe_request(request, out);
    if (!size) return;
    out.resize(*size);
    sent_.push_back({request.transaction_id, *size});
    outbox_.push_back({local_, server, std::move(out)});
  }

  void on_datagram(TimePoint, const Endpoint&, const Endpoint& remote,
                   std::span<const uint8_t> bytes) override {
    auto view = proto::parse_message(bytes);
    if (!view) return;
    auto response = proto::decode_probe_response(*view);
    if (!response) return;
    size_t request_size = 0;
    for (const auto& s : sent_) {
      if (s.first == response->transaction_id) request_size = s.second;
    }
    replies.push_back({remote, bytes.size(), request_size, std::move(*response)});
  }
  void on_timeout(TimePoint) override {}
  TimePoint next_timeout() const override { return kNever; }
  void poll_transmit(std::vector<Datagram>& out) override { move_datagrams(outbox_, out); }

  std::vector<Reply> replies;

 private:
  Endpoint local_;
  std::vector<std::pair<proto::TransactionId, size_t>> sent_;
  std::vector<Datagram> outbox_;
};

struct HeartbeatSpec {
  std::string name = "child";
  Endpoint advertised = addr(9, 9);
  uint16_t load = 100;
  proto::Subtree subtree{1, 100, 0};
  proto::NodeState state = proto::NodeState::kActive;
  uint16_t weight = 1;
  uint64_t timestamp_ms = static_cast<uint64_t>(FakeClock::kDefaultWallStartMs);
  uint8_t tid = 1;
};

inline std::vector<uint8_t> heartbeat_bytes(const HeartbeatSpec& spec, const std::string& key) {
  proto::HeartbeatRequest hb;
  hb.transaction_id = {spec.tid, 0x48, 0x42};
  hb.node_name = spec.name;
  hb.advertised = {spec.advertised};
  hb.load = {spec.load, 0};
  hb.subtree = spec.subtree;
  hb.state = spec.state;
  hb.weight = spec.weight;
  hb.timestamp_ms = spec.timestamp_ms;
  std::vector<uint8_t> out(1024);
  auto size = proto::encode_heartbeat_request(hb, bytes_of(key), out);
  out.resize(size ? *size : 0);
  return out;
}

inline std::vector<uint8_t> leave_bytes(const std::string& name, uint64_t timestamp_ms,
                                        const std::string& key, uint8_t tid = 7) {
  proto::LeaveRequest leave;
  leave.transaction_id = {tid, 0x4c};
  leave.node_name = name;
  leave.timestamp_ms = timestamp_ms;
  std::vector<uint8_t> out(512);
  auto size = proto::encode_leave_request(leave, bytes_of(key), out);
  out.resize(size ? *size : 0);
  return out;
}

// The ERROR-CODE of an error response, or nullopt for anything else.
inline std::optional<uint16_t> error_code_of(std::span<const uint8_t> bytes) {
  auto view = proto::parse_message(bytes);
  if (!view || view->message_class() != proto::MessageClass::kError) return std::nullopt;
  auto error = proto::decode_error_response(*view);
  if (!error) return std::nullopt;
  return error->code;
}

}  // namespace turnscout::server::testing
