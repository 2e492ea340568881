// The whole server core on a fake clock: Probes, Bindings, Heartbeats and Leaves, signed
// with the cluster key or not, and raw bytes, from a listed child, the parent, and strangers
// at IPv4 and IPv6 addresses; time passes as the fuzzer says. Besides "no crash, no UB, no
// leak" it checks PROTOCOL.md §8 for every datagram:
// - one request gets at most one reply, and only to its sender;
// - a reply is never larger than its request, except a Heartbeat or Leave success response
//   signed with the cluster key (only a child that proved the key gets one);
// - nothing that fails to parse is answered.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "fuzz/fuzz_check.hpp"
#include "proto/proto.hpp"
#include "server/core/events.hpp"
#include "server/core/server_core.hpp"

namespace turnscout::server {
namespace {

using namespace std::chrono_literals;

const std::string kKey = "fuzz-cluster-key-0123456789abcdef";
const std::string kTokenKey = "fuzz-token-key-0123456789abcdef";
const Endpoint kSelf = Endpoint::v4(10, 0, 0, 1, 3479);
const Endpoint kParent = Endpoint::v4(10, 0, 0, 2, 3479);
const Endpoint kChild = Endpoint::v4(10, 0, 1, 11, 3479);
constexpr uint64_t kWallStartMs = 1'767'225'600'000;  // 2026-01-01.

class QuietLog final : public EventLog {
 public:
  bool enabled(Severity) const override { return false; }
  void record(Severity, std::string_view) override {}
};

ServerConfig config() {
  ServerConfig c;
  c.name = "fuzz-node";
  c.listen = {kSelf};
  c.advertise = {kSelf};
  c.parents = {{kParent}};
  c.children = {{"static-1", kChild, 1}};
  c.cluster.key = kKey;
  c.cluster.accept_dynamic_children = true;
  c.cluster.max_dynamic_children = 16;
  c.admission.tiers = {TierConfig{"free", 0, 50, 20}, TierConfig{"gold", 1, 500, 200}};
  c.admission.token_key = kTokenKey;
  c.admission.max_clients = 32;
  return c;
}

Endpoint pick_source(FuzzedDataProvider& in) {
  const uint8_t n = in.ConsumeIntegral<uint8_t>();
  switch (in.ConsumeIntegralInRange<int>(0, 4)) {
    case 0:
      return kChild;
    case 1:
      return kParent;
    case 2: {
      std::array<uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, n};
      ip[15] = in.ConsumeIntegral<uint8_t>();
      return Endpoint::v6(ip, in.ConsumeIntegral<uint16_t>());
    }
    default:
      return Endpoint::v4(198, 51, 100, n, in.ConsumeIntegral<uint16_t>());
  }
}

std::vector<uint8_t> probe(FuzzedDataProvider& in) {
  std::vector<uint8_t> token;
  if (in.ConsumeBool()) {
    token.resize(proto::kMaxCapacityTokenSize);
    const proto::CapacityToken t{in.ConsumeIntegralInRange<uint8_t>(1, 3),
                                 kWallStartMs / 1000 + in.ConsumeIntegral<uint16_t>(), ""};
    auto n = proto::issue_capacity_token(t, bytes_of(in.ConsumeBool() ? kTokenKey : kKey),
                                         kWallStartMs / 1000, token);
    token.resize(n ? *n : 0);
  }
  proto::ProbeRequest r;
  r.transaction_id = {in.ConsumeIntegral<uint8_t>(), in.ConsumeIntegral<uint8_t>()};
  r.children_wanted = in.ConsumeIntegral<uint16_t>();
  r.capacity_token = token;
  r.pad_to = in.ConsumeIntegralInRange<size_t>(0, 1400);
  std::vector<uint8_t> out(1500);
  auto n = proto::encode_probe_request(r, out);
  out.resize(n ? *n : 0);
  return out;
}

// A Heartbeat or Leave as a child (or someone who guessed wrong) would sign it.
std::vector<uint8_t> control(FuzzedDataProvider& in, uint64_t wall_ms) {
  static const std::array<const char*, 5> kNames = {"static-1", "dyn-a", "dyn-b", "fuzz-node",
                                                    "dyn-c"};
  const std::string name = kNames[in.ConsumeIntegralInRange<size_t>(0, kNames.size() - 1)];
  const uint64_t timestamp =
      wall_ms - 40'000 + in.ConsumeIntegralInRange<uint64_t>(0, 80'000);  // Around the window.
  const std::string key =
      in.ConsumeIntegralInRange<int>(0, 3) == 0 ? "wrong key, 32 bytes long!" : kKey;
  std::vector<uint8_t> out(1024);
  Result<size_t, proto::EncodeError> n = unexpected(proto::EncodeError{});
  const proto::TransactionId id{in.ConsumeIntegral<uint8_t>(), 0x48};
  if (in.ConsumeBool()) {
    proto::HeartbeatRequest hb;
    hb.transaction_id = id;
    hb.node_name = name;
    hb.advertised = {Endpoint::v4(198, 51, 100, in.ConsumeIntegral<uint8_t>(), 3479)};
    hb.load = {in.ConsumeIntegral<uint16_t>(), in.ConsumeIntegral<uint16_t>()};
    hb.capacity = in.ConsumeIntegral<uint32_t>();
    hb.subtree = {in.ConsumeIntegral<uint32_t>(), in.ConsumeIntegral<uint16_t>(),
                  in.ConsumeIntegral<uint16_t>()};
    hb.state = in.ConsumeBool() ? proto::NodeState::kActive : proto::NodeState::kDraining;
    hb.weight = in.ConsumeIntegral<uint16_t>();
    hb.timestamp_ms = timestamp;
    n = proto::encode_heartbeat_request(hb, bytes_of(key), out);
  } else {
    proto::LeaveRequest leave;
    leave.transaction_id = id;
    leave.node_name = name;
    leave.timestamp_ms = timestamp;
    n = proto::encode_leave_request(leave, bytes_of(key), out);
  }
  out.resize(n ? *n : 0);
  return out;
}

// Heartbeat and Leave success responses are the one reply allowed to outgrow a request.
bool signed_control_success(std::span<const uint8_t> bytes) {
  auto view = proto::parse_message(bytes);
  if (!view || view->message_class() != proto::MessageClass::kSuccess) return false;
  if (view->method() != proto::Method::kHeartbeat && view->method() != proto::Method::kLeave) {
    return false;
  }
  return proto::verify_integrity_sha256(*view, bytes_of(kKey));
}

}  // namespace
}  // namespace turnscout::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace turnscout;
  using namespace turnscout::server;
  FuzzedDataProvider in(data, size);
  QuietLog log;
  TimePoint now = TimePoint{} + 1000s;
  const WallTime wall_start{std::chrono::milliseconds{kWallStartMs}};
  ServerCore core(config(), now, wall_start, in.ConsumeIntegral<uint64_t>(), log);
  std::vector<Datagram> out;
  core.poll_transmit(out);

  for (int step = 0; step < 256 && in.remaining_bytes() > 0; ++step) {
    now += std::chrono::microseconds{in.ConsumeIntegralInRange<int64_t>(0, 3'000'000)};
    if (core.next_timeout() <= now) {
      core.on_timeout(now);
      out.clear();
      core.poll_transmit(out);  // Heartbeats to the parent: not answers to anyone.
    }
    const uint64_t wall_ms =
        kWallStartMs + static_cast<uint64_t>((now - (TimePoint{} + 1000s)) / 1ms);
    const Endpoint from = pick_source(in);
    std::vector<uint8_t> request;
    switch (in.ConsumeIntegralInRange<int>(0, 4)) {
      case 0:
        request = probe(in);
        break;
      case 1:
      case 2:
        request = control(in, wall_ms);
        break;
      default:
        request = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 2000));
        break;
    }
    if (request.empty()) continue;
    core.on_datagram(now, kSelf, from, request);
    out.clear();
    core.poll_transmit(out);
    REQUIRE(out.size() <= 1);
    for (const Datagram& d : out) {
      REQUIRE(d.remote == from);
      REQUIRE(d.local == kSelf);
      REQUIRE(proto::parse_message(request).ok());
      REQUIRE(d.bytes.size() <= request.size() || signed_control_success(d.bytes));
    }
  }
  return 0;
}
