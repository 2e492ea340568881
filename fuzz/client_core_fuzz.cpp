// The client core against a hostile network: every reply to a Probe or Binding the client
// sends is chosen by the fuzzer (wide listings, loops, special and private addresses, junk
// services, bad flow control, raw bytes with the right transaction id), and so are the
// moments time passes. Besides "no crash, no UB, no leak" it checks what PROTOCOL.md and the
// SDK promise whatever the servers say:
// - Probes stay within the discovery's budget (max_probes datagrams, max_probe_bytes);
// - nothing is sent to an unspecified, multicast or broadcast address or port 0, and from
//   a public root nothing reaches a loopback or private address;
// - the discovery ends by its deadline, and exactly one result is delivered.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/random.hpp"
#include "client/core/prober.hpp"
#include "fuzz/fuzz_check.hpp"
#include "proto/proto.hpp"

namespace turnscout::client {
namespace {

using namespace std::chrono_literals;

const Endpoint kLocal = Endpoint::v4(198, 51, 100, 77, 40000);
const Endpoint kRoot = Endpoint::v4(203, 0, 113, 1, 3478);

// Addresses a hostile server may list: public ones (some of them listed again and again,
// the root itself for loops), and ones the client must never send to.
Endpoint pick_address(FuzzedDataProvider& in) {
  const uint8_t n = in.ConsumeIntegral<uint8_t>();
  switch (in.ConsumeIntegralInRange<int>(0, 11)) {
    case 0:
      return kRoot;
    case 1:
      return Endpoint::v4(0, 0, 0, 0, 3478);
    case 2:
      return Endpoint::v4(224, 0, 0, n, 3478);
    case 3:
      return Endpoint::v4(255, 255, 255, 255, 3478);
    case 4:
      return Endpoint::v4(198, 51, 100, n, 0);
    case 5:
      return Endpoint::v4(127, 0, 0, n, 3478);
    case 6:
      return Endpoint::v4(192, 168, 1, n, 3478);
    case 7:
      return Endpoint::v4(10, 0, 0, n, 3478);
    case 8: {
      std::array<uint8_t, 16> ip{};
      ip[0] = in.ConsumeBool() ? 0xff : 0xfe;  // Multicast or link-local.
      ip[1] = 0x80;
      ip[15] = n;
      return Endpoint::v6(ip, 3478);
    }
    case 9: {
      std::array<uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8};
      ip[15] = n;
      return Endpoint::v6(ip, 3478);
    }
    default:
      return Endpoint::v4(198, 51, static_cast<uint8_t>(n % 4), n, 3478);
  }
}

std::string pick_service(FuzzedDataProvider& in) {
  static const std::array<const char*, 8> kServices = {
      "turn:198.51.100.21:3478?transport=udp",
      "turn:0.0.0.0:3478?transport=udp",
      "turn:127.0.0.1:3478?transport=udp",
      "turns:turn.example.org:5349?transport=tcp",
      "stun:[2001:db8::5]",
      "turn:192.168.0.1:3478",
      "turn:198.51.100.22:0",
      "turn:203.0.113.1:3478?transport=udp",
  };
  if (in.ConsumeBool()) return kServices[in.ConsumeIntegralInRange<size_t>(0, 7)];
  return in.ConsumeRandomLengthString(300);
}

// A Probe reply as a hostile server would write it, at most `max_size` bytes (a server
// that ignores the request's size may use up to 1500).
std::vector<uint8_t> probe_reply(FuzzedDataProvider& in, const proto::TransactionId& id,
                                 const Endpoint& to, size_t request_size) {
  std::vector<proto::ChildEntry> children(in.ConsumeIntegralInRange<size_t>(0, 120));
  for (proto::ChildEntry& c : children) {
    c.address = pick_address(in);
    c.leaf = in.ConsumeBool();
    c.load_permille = in.ConsumeIntegral<uint16_t>();
    c.weight = in.ConsumeIntegral<uint16_t>();
  }
  std::vector<std::string> services(in.ConsumeIntegralInRange<size_t>(0, 4));
  for (std::string& s : services)
    s = pick_service(in);
  const std::string name = in.ConsumeBool()
                               ? "node-" + std::to_string(in.ConsumeIntegral<uint8_t>())
                               : in.ConsumeRandomLengthString(70);
  proto::ProbeReply reply;
  reply.transaction_id = id;
  reply.reflexive = in.ConsumeBool() ? to : pick_address(in);
  reply.node_name = name;
  reply.load = {in.ConsumeIntegral<uint16_t>(), in.ConsumeIntegral<uint16_t>()};
  reply.flow_control = {in.ConsumeIntegral<uint32_t>(), in.ConsumeIntegral<uint32_t>(),
                        in.ConsumeIntegral<uint16_t>(), in.ConsumeIntegral<uint16_t>(),
                        in.ConsumeIntegral<uint8_t>()};
  reply.reply_flags = in.ConsumeIntegral<uint32_t>();
  reply.children = children;
  reply.services = services;
  std::vector<uint8_t> out(1500);
  const size_t max_size = in.ConsumeBool() ? request_size : out.size();
  auto size = proto::encode_probe_reply(reply, max_size, out);
  if (!size) return {};
  out.resize(size->size);
  return out;
}

// Raw bytes under the request's transaction id: the decoders meet junk that is aimed at a
// request in flight.
std::vector<uint8_t> raw_reply(FuzzedDataProvider& in, const proto::TransactionId& id) {
  std::vector<uint8_t> bytes = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 1500));
  if (bytes.size() >= 20) std::copy(id.begin(), id.end(), bytes.begin() + 8);
  return bytes;
}

struct Request {
  Endpoint to;
  proto::Method method;
  proto::TransactionId id;
  size_t size;
  Transport via;
};

bool special(const Endpoint& e) {
  if (e.port == 0) return true;
  if (e.family == Family::kV4) {
    const auto& a = e.ip;
    return (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0) || a[0] >= 224;
  }
  const bool unspecified = std::all_of(e.ip.begin(), e.ip.end(), [](uint8_t b) { return b == 0; });
  return unspecified || e.ip[0] == 0xff;
}

bool inner(const Endpoint& e) {
  if (e.family == Family::kV4) {
    const auto& a = e.ip;
    return a[0] == 127 || a[0] == 10 || (a[0] == 192 && a[1] == 168) ||
           (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 169 && a[1] == 254);
  }
  const bool loopback =
      std::all_of(e.ip.begin(), e.ip.end() - 1, [](uint8_t b) { return b == 0; }) && e.ip[15] == 1;
  return loopback || (e.ip[0] & 0xfe) == 0xfc || (e.ip[0] == 0xfe && (e.ip[1] & 0xc0) == 0x80);
}

}  // namespace
}  // namespace turnscout::client

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace turnscout;
  using namespace turnscout::client;
  FuzzedDataProvider in(data, size);
  SeededRandom random(in.ConsumeIntegral<uint64_t>());
  const TimePoint start = TimePoint{} + 1000s;
  TimePoint now = start;
  Prober prober(ProberConfig{}, random, now);

  client::DiscoverOptions o;
  o.roots = {"203.0.113.1:3478"};
  o.timeout = std::chrono::milliseconds{in.ConsumeIntegralInRange<int>(100, 5000)};
  o.verify = in.ConsumeBool();
  o.selection = in.ConsumeBool() ? Selection::kLoadAware : Selection::kFirst;
  o.max_attempts = in.ConsumeIntegralInRange<uint32_t>(1, 10);
  // Any transport mode; a short fallback so that TCP and TLS join within the deadline.
  o.transport = static_cast<TransportMode>(in.ConsumeIntegralInRange<int>(0, 3));
  o.transport_fallback = std::chrono::milliseconds{in.ConsumeIntegralInRange<int>(1, 600)};
  auto id = prober.start(now, o);
  REQUIRE(id.ok());
  const TimePoint deadline = now + o.timeout;

  std::vector<Request> pending;
  std::vector<Datagram> out;
  size_t probes = 0;
  size_t probe_bytes = 0;
  size_t results = 0;
  // Bounded: a few thousand steps reach any deadline; the fuzzer decides the order.
  for (int step = 0; step < 4000 && results == 0; ++step) {
    out.clear();
    prober.poll_transmit(out);
    for (const Datagram& d : out) {
      REQUIRE(!special(d.remote));
      REQUIRE(!inner(d.remote));  // The root is public and any scope was not allowed.
      auto view = proto::parse_message(d.bytes);
      REQUIRE(view.ok());
      if (view->method() == proto::Method::kProbe) {
        ++probes;
        probe_bytes += d.bytes.size();
        // A fixed transport is the only one Probes take.
        if (o.transport == TransportMode::kUdp) REQUIRE(d.transport == Transport::kUdp);
        if (o.transport == TransportMode::kTcp) REQUIRE(d.transport == Transport::kTcp);
        if (o.transport == TransportMode::kTls) REQUIRE(d.transport == Transport::kTls);
      }
      // TLS is always checked: the options did not say otherwise.
      if (d.transport == Transport::kTls) REQUIRE(d.tls_verify);
      pending.push_back(
          {d.remote, view->method(), view->transaction_id(), d.bytes.size(), d.transport});
    }
    REQUIRE(probes <= o.max_probes);
    REQUIRE(probe_bytes <= o.max_probe_bytes);
    while (prober.poll_resolve()) {
    }
    if (auto r = prober.poll_result()) {
      REQUIRE(r->id == *id);
      REQUIRE(now <= deadline);
      ++results;
      break;
    }
    if (in.remaining_bytes() == 0 || pending.empty() || in.ConsumeIntegralInRange<int>(0, 4) == 0) {
      // Time passes to the next thing the prober waits for.
      const TimePoint next = prober.next_timeout();
      REQUIRE(next != kNever);
      now = std::max(now, next);
      prober.on_timeout(now);
      continue;
    }
    const size_t which = in.ConsumeIntegralInRange<size_t>(0, pending.size() - 1);
    const Request request = pending[which];
    if (in.ConsumeBool()) pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(which));
    std::vector<uint8_t> reply;
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
      case 0:
      case 1:
        reply = probe_reply(in, request.id, kLocal, request.size);
        break;
      case 2: {
        std::array<uint8_t, 64> buf{};
        auto n = proto::encode_binding_response({request.id, kLocal, in.ConsumeBool()}, buf);
        if (n) reply.assign(buf.begin(), buf.begin() + *n);
        break;
      }
      default:
        reply = raw_reply(in, request.id);
        break;
    }
    // Mostly from the address asked; sometimes from elsewhere (spoofed or misrouted).
    const Endpoint from = in.ConsumeIntegralInRange<int>(0, 7) == 0 ? pick_address(in) : request.to;
    // A driver never lets a timer pass unserved: time moves on to the next one at most.
    now = std::min(now + std::chrono::microseconds{in.ConsumeIntegralInRange<int>(0, 200'000)},
                   std::max(now, prober.next_timeout()));
    // Mostly the way the request went; sometimes another way, or the driver reports the
    // destination unreachable over some transport instead (a refused connection, a
    // refused certificate).
    const int how = in.ConsumeIntegralInRange<int>(0, 9);
    const Transport via =
        how == 0 ? static_cast<Transport>(in.ConsumeIntegralInRange<int>(0, 2)) : request.via;
    if (how == 1) {
      prober.on_unreachable(now, request.to, via, in.ConsumeRandomLengthString(40));
    } else if (via == Transport::kUdp) {
      prober.on_datagram(now, kLocal, from, reply);
    } else {
      prober.on_stream_message(now, via, kLocal, from, reply);
    }
  }
  // Whatever was left undecided, the deadline decides.
  while (results == 0) {
    out.clear();
    prober.poll_transmit(out);
    if (auto r = prober.poll_result()) {
      REQUIRE(now <= deadline);
      ++results;
      break;
    }
    const TimePoint next = prober.next_timeout();
    REQUIRE(next != kNever && next <= deadline);
    now = next;
    prober.on_timeout(now);
  }
  REQUIRE(!prober.poll_result());
  return 0;
}
