#include "server/core/responder.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "proto/binding.hpp"
#include "proto/byte_order.hpp"
#include "proto/capacity_token.hpp"
#include "proto/error_response.hpp"
#include "proto/heartbeat.hpp"
#include "proto/message_builder.hpp"
#include "proto/probe.hpp"
#include "server/core/strategy.hpp"
#include "tests/server/alloc_counter.hpp"

namespace turnscout::server {
namespace {

constexpr uint64_t kWall = 1'800'000'000;
const TimePoint kStart = TimePoint{} + 1h;
const Endpoint kClient = Endpoint::v4(198, 51, 100, 7, 40000);
const Endpoint kClient6 =
    Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}, 40000);
const std::string kKey = "cluster secret";
const std::string kService = "turn:198.51.100.21:3478?transport=udp";

SnapshotChild make_child(int i) {
  SnapshotChild c;
  c.name = "node-" + std::to_string(i);
  c.v4 = Endpoint::v4(10, 1, 0, static_cast<uint8_t>(i), 3479);
  c.v6 = Endpoint::v6(
      {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(i)}, 3479);
  c.load_permille = static_cast<uint16_t>(800 - 10 * i);  // Least-load order: reversed.
  c.weight = static_cast<uint16_t>(1 + i % 3);
  c.leaf = i % 2 == 0;
  c.id_hash = child_id_hash(c.name);
  return c;
}

Snapshot base_snapshot(int children) {
  Snapshot s;
  s.version = 1;
  s.node_name = "eu-west";
  s.load = proto::Load{350, 900};
  for (int i = 0; i < children; ++i)
    s.children.push_back(make_child(i));
  s.listing = ListingConfig{Strategy::kLeastLoad, 0, 900};
  return s;
}

SnapshotPtr snapshot_of(Snapshot s) {
  return std::make_shared<const Snapshot>(std::move(s));
}

AdmissionConfig free_tier() {
  AdmissionConfig c;
  c.tiers = {TierConfig{"free", 0, 20, 5}, TierConfig{"gold", 1, 200, 50}};
  return c;
}

// Large enough that a test sending thousands of requests is never limited.
AdmissionConfig generous() {
  AdmissionConfig c;
  c.tiers = {TierConfig{"free", 0, 1e9, 1e9}, TierConfig{"gold", 1, 2e9, 2e9}};
  return c;
}

proto::TransactionId tid(uint8_t n) {
  proto::TransactionId t{};
  t.fill(n);
  return t;
}

std::vector<uint8_t> probe(size_t pad_to, uint16_t wanted = 0, std::span<const uint8_t> token = {},
                           uint8_t depth = 1) {
  std::vector<uint8_t> buf(2048);
  proto::ProbeRequest r;
  r.transaction_id = tid(0x11);
  r.children_wanted = wanted;
  r.depth = depth;
  r.capacity_token = token;
  r.pad_to = pad_to;
  const auto size = proto::encode_probe_request(r, buf);
  REQUIRE(size.ok());
  buf.resize(*size);
  return buf;
}

std::vector<uint8_t> binding(bool fingerprint) {
  std::vector<uint8_t> buf(64);
  const auto size = proto::encode_binding_request({tid(0x22), fingerprint}, buf);
  REQUIRE(size.ok());
  buf.resize(*size);
  return buf;
}

// A request of `method` carrying an unknown comprehension-required attribute.
std::vector<uint8_t> with_unknown_attribute(proto::Method method, size_t padding,
                                            bool fingerprint) {
  std::vector<uint8_t> buf(2048);
  proto::MessageBuilder b(buf);
  b.start(method, proto::MessageClass::kRequest, tid(0x33));
  if (padding > 0) b.add_padding(padding);
  b.add_raw(0x7F01, {});
  if (fingerprint) b.add_fingerprint();
  const auto size = b.finish();
  REQUIRE(size.ok());
  buf.resize(*size);
  return buf;
}

std::vector<uint8_t> capacity_token(uint8_t tier) {
  std::vector<uint8_t> out(proto::kMaxCapacityTokenSize);
  const std::span<const uint8_t> key(reinterpret_cast<const uint8_t*>(kKey.data()), kKey.size());
  const auto size = proto::issue_capacity_token({tier, kWall + 3600, ""}, key, kWall, out);
  REQUIRE(size.ok());
  out.resize(*size);
  return out;
}

struct Harness {
  // `token_key` verifies capacity tokens.
  explicit Harness(AdmissionConfig admission = generous(), std::string token_key = "")
      : responder(with_token_key(std::move(admission), std::move(token_key)), 1234) {}
  static AdmissionConfig with_token_key(AdmissionConfig admission, std::string token_key) {
    admission.token_key = std::move(token_key);
    return admission;
  }

  Outcome send(std::span<const uint8_t> in, const Endpoint& from = kClient,
               TimePoint now = kStart) {
    return responder.handle(now, kWall, from, in, out);
  }
  proto::ProbeResponse probe_reply(const Outcome& o) {
    REQUIRE(o.what == Disposition::kReply);
    const auto view = proto::parse_message(std::span<const uint8_t>(out.data(), o.size));
    REQUIRE(view.ok());
    auto decoded = proto::decode_probe_response(*view);
    REQUIRE(decoded.ok());
    return *decoded;
  }
  uint64_t drops(DropReason r) const {
    return responder.counters().drops[static_cast<size_t>(r)].get();
  }
  uint64_t requests(RequestKind k) const {
    return responder.counters().requests[static_cast<size_t>(k)].get();
  }

  ProbeResponder responder;
  std::array<uint8_t, 1500> out{};
};

std::vector<proto::ChildEntry> least_load_entries(const Snapshot& s, Family family) {
  std::vector<SnapshotChild> sorted = s.children;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.load_permille < b.load_permille; });
  std::vector<proto::ChildEntry> out;
  for (const auto& c : sorted) {
    out.push_back({family == Family::kV6 ? *c.v6 : *c.v4, c.leaf, c.load_permille, c.weight});
  }
  return out;
}

constexpr std::array kAllStrategies = {
    Strategy::kAll,    Strategy::kRoundRobin, Strategy::kWeighted, Strategy::kLeastLoad,
    Strategy::kRandom, Strategy::kTwoChoice,  Strategy::kIpHash};

// A Heartbeat as child "child-a" at `child` sends it, signed with `key` ("" = unsigned).
std::vector<uint8_t> heartbeat_from(const Endpoint& child, std::string_view key,
                                    uint64_t timestamp_ms) {
  proto::HeartbeatRequest hb;
  hb.transaction_id = tid(5);
  hb.node_name = "child-a";
  hb.advertised = {child};
  hb.timestamp_ms = timestamp_ms;
  std::vector<uint8_t> buf(512);
  auto size = proto::encode_heartbeat_request(hb, bytes_of(key), buf);
  REQUIRE(size.ok());
  buf.resize(*size);
  return buf;
}

}  // namespace

TEST_CASE("a padded Probe gets the node, its children, services and flow control") {
  Harness h(free_tier());
  Snapshot s = base_snapshot(4);
  s.services = {kService};
  h.responder.set_snapshot(snapshot_of(s));
  const auto in = probe(proto::kRecommendedRequestSize);
  const Outcome o = h.send(in);
  REQUIRE(o.what == Disposition::kReply);
  CHECK(o.size <= in.size());
  const auto reply = h.probe_reply(o);
  CHECK(reply.transaction_id == tid(0x11));
  CHECK(reply.reflexive == kClient);
  CHECK(reply.node_name == "eu-west");
  CHECK(reply.load == proto::Load{350, 900});
  CHECK(reply.flow_control == proto::FlowControl{20, 5000, 1, 1, 0});
  CHECK(reply.reply_flags == 0);
  CHECK(reply.children == least_load_entries(s, Family::kV4));
  CHECK(reply.services == std::vector<std::string>{kService});
  CHECK(h.requests(RequestKind::kProbe) == 1);
  CHECK(h.responder.counters().replies.get() == 1);
  CHECK(h.responder.counters().reply_bytes.get() == o.size);
}

TEST_CASE("a new snapshot's node name and services are in the next reply") {
  Harness h;
  Snapshot first = base_snapshot(0);
  first.services = {kService};
  h.responder.set_snapshot(snapshot_of(first));
  const auto in = probe(proto::kRecommendedRequestSize);
  const auto before = h.probe_reply(h.send(in));
  CHECK(before.node_name == "eu-west");
  CHECK(before.services == std::vector<std::string>{kService});

  Snapshot second = base_snapshot(0);
  second.node_name = "us-east.2";
  second.services = {"turns:198.51.100.22:5349?transport=tcp", kService};
  h.responder.set_snapshot(snapshot_of(second));
  const auto after = h.probe_reply(h.send(in));
  CHECK(after.node_name == "us-east.2");
  CHECK(after.services == second.services);

  // Text that a checked config would have refused is never sent.
  Snapshot bad = base_snapshot(0);
  bad.node_name = "us east";
  h.responder.set_snapshot(snapshot_of(bad));
  CHECK(h.send(in).what == Disposition::kDrop);
}

TEST_CASE("children are given in the client's address family when they have it") {
  Harness h;
  Snapshot s = base_snapshot(3);
  s.listing.strategy = Strategy::kAll;
  s.children[1].v6.reset();
  s.children[2].v4.reset();
  h.responder.set_snapshot(snapshot_of(s));
  const auto in = probe(600);
  const auto v4 = h.probe_reply(h.send(in, kClient)).children;
  REQUIRE(v4.size() == 3);
  CHECK(v4[0].address == *s.children[0].v4);
  CHECK(v4[1].address == *s.children[1].v4);
  CHECK(v4[2].address == *s.children[2].v6);
  const auto reply6 = h.probe_reply(h.send(in, kClient6));
  CHECK(reply6.reflexive == kClient6);
  REQUIRE(reply6.children.size() == 3);
  CHECK(reply6.children[0].address == *s.children[0].v6);
  CHECK(reply6.children[1].address == *s.children[1].v4);
  CHECK(reply6.children[2].address == *s.children[2].v6);
}

TEST_CASE("a client on a dual-stack socket sees its IPv4 address") {
  Harness h;
  h.responder.set_snapshot(snapshot_of(base_snapshot(2)));
  std::array<uint8_t, 16> mapped{};
  mapped[10] = mapped[11] = 0xff;
  mapped[12] = 198;
  mapped[13] = 51;
  mapped[14] = 100;
  mapped[15] = 7;
  const auto reply = h.probe_reply(h.send(probe(600), Endpoint::v6(mapped, 40000)));
  CHECK(reply.reflexive == kClient);
  CHECK(reply.children[0].address.family == Family::kV4);
}

TEST_CASE("replies are never larger than requests; truncated exactly when children are cut") {
  for (const Family family : {Family::kV4, Family::kV6}) {
    CAPTURE(static_cast<int>(family));
    const Endpoint from = family == Family::kV4 ? kClient : kClient6;
    Harness h;
    Snapshot s = base_snapshot(32);
    s.services = {kService};
    h.responder.set_snapshot(snapshot_of(s));
    const auto expected = least_load_entries(s, family);
    const size_t child_size = proto::attribute_size(proto::child_value_size(expected[0].address));
    size_t first_reply = 0;
    uint64_t truncated = 0;
    for (size_t size = 28; size <= proto::kRecommendedRequestSize; size += 4) {
      CAPTURE(size);
      const auto in = probe(size);
      REQUIRE(in.size() == size);
      const Outcome o = h.send(in, from);
      if (o.what == Disposition::kDrop) {
        CHECK(o.reason == DropReason::kAmplification);
        CHECK(first_reply == 0);  // Once a size is answered, every larger one is.
        continue;
      }
      if (first_reply == 0) first_reply = size;
      REQUIRE(o.what == Disposition::kReply);
      CHECK(o.size <= size);
      const auto reply = h.probe_reply(o);
      const size_t n = reply.children.size();
      const bool flagged = (reply.reply_flags & proto::reply_flag::kTruncated) != 0;
      CHECK(flagged == (n < expected.size()));
      truncated += flagged ? 1 : 0;
      // The children kept are the strategy's first ones, and no further one would fit.
      CHECK(std::equal(reply.children.begin(), reply.children.end(), expected.begin()));
      if (flagged) CHECK(o.size + child_size > size);
    }
    CHECK(first_reply > 28);
    CHECK(truncated > 0);
    CHECK(h.responder.counters().truncated_replies.get() == truncated);
    CHECK(h.drops(DropReason::kAmplification) == (first_reply - 28) / 4);
  }
}

TEST_CASE("over a stream a small Probe gets every child; heartbeats are not read there") {
  Harness h;
  Snapshot s = base_snapshot(80);  // Loads 800 down to 10: none overloaded.
  s.child_sources = {Endpoint::v4(10, 1, 0, 1, 3479)};
  h.responder.set_snapshot(snapshot_of(s));
  std::vector<uint8_t> out(proto::kMaxMessageSize);
  // Over UDP even a padded request gets a list cut to its own size; an unpadded one, nothing.
  const auto padded = probe(600);
  const Outcome udp = h.send(padded, kClient6);
  REQUIRE(udp.what == Disposition::kReply);
  CHECK(udp.size <= padded.size());
  CHECK(h.probe_reply(udp).children.size() < 80);
  const auto in = probe(0);
  CHECK(h.send(in, kClient6).what == Disposition::kDrop);

  const Outcome o = h.responder.handle(kStart, kWall, kClient6, in, out, Via::kStream);
  REQUIRE(o.what == Disposition::kReply);
  CHECK(o.size > 1500);
  const auto view = proto::parse_message(std::span<const uint8_t>(out.data(), o.size));
  REQUIRE(view.ok());
  const auto reply = proto::decode_probe_response(*view);
  REQUIRE(reply.ok());
  CHECK(reply->children.size() == 80);
  CHECK((reply->reply_flags & proto::reply_flag::kTruncated) == 0);

  // A heartbeat from a child's own address is dropped over a stream (the tree uses UDP).
  const auto hb = heartbeat_from(Endpoint::v4(10, 1, 0, 1, 3479), "", kWall * 1000);
  const Outcome control =
      h.responder.handle(kStart, kWall, Endpoint::v4(10, 1, 0, 1, 3479), hb, out, Via::kStream);
  CHECK(control.what == Disposition::kDrop);
  CHECK(control.reason == DropReason::kUnexpected);
}

TEST_CASE("CHILDREN-WANTED and max_children shorten the list without truncation") {
  Harness h;
  Snapshot s = base_snapshot(32);
  s.listing.max_children = 8;
  h.responder.set_snapshot(snapshot_of(s));
  const auto expected = least_load_entries(s, Family::kV4);
  auto reply = h.probe_reply(h.send(probe(1200, 3)));
  CHECK(reply.children == std::vector(expected.begin(), expected.begin() + 3));
  CHECK(reply.reply_flags == 0);
  reply = h.probe_reply(h.send(probe(1200, 20)));
  CHECK(reply.children == std::vector(expected.begin(), expected.begin() + 8));
  CHECK(reply.reply_flags == 0);
  reply = h.probe_reply(h.send(probe(1200)));
  CHECK(reply.children.size() == 8);
  CHECK(reply.reply_flags == 0);
}

TEST_CASE("overloaded children are not listed") {
  Harness h;
  Snapshot s = base_snapshot(4);
  s.children[0].load_permille = 900;
  s.children[2].load_permille = 2000;
  h.responder.set_snapshot(snapshot_of(s));
  const auto reply = h.probe_reply(h.send(probe(1200)));
  REQUIRE(reply.children.size() == 2);
  CHECK(reply.children[0].address == *s.children[3].v4);
  CHECK(reply.children[1].address == *s.children[1].v4);
}

TEST_CASE("admission control drops over-limit requests and counts them") {
  Harness h(free_tier());
  h.responder.set_snapshot(snapshot_of(base_snapshot(2)));
  const auto in = probe(600);
  for (int i = 0; i < 20; ++i)
    REQUIRE(h.send(in).what == Disposition::kReply);
  const Outcome o = h.send(in);
  CHECK(o.what == Disposition::kDrop);
  CHECK(o.reason == DropReason::kRateLimited);
  // Bindings share the bucket.
  CHECK(h.send(binding(true)).reason == DropReason::kRateLimited);
  CHECK(h.drops(DropReason::kRateLimited) == 2);
  CHECK(h.requests(RequestKind::kProbe) == 21);
  CHECK(h.responder.counters().replies.get() == 20);
  // 200 ms later one token is back.
  CHECK(h.send(in, kClient, kStart + 200ms).what == Disposition::kReply);
}

TEST_CASE("a capacity token raises this client's limits, announced in the reply") {
  Harness h(free_tier(), kKey);
  h.responder.set_snapshot(snapshot_of(base_snapshot(2)));
  const auto token = capacity_token(1);
  const auto in = probe(600, 0, token);
  CHECK(h.probe_reply(h.send(in)).flow_control == proto::FlowControl{200, 50000, 1, 1, 1});
  int replies = 1;
  while (h.send(in).what == Disposition::kReply)
    ++replies;
  CHECK(replies == 200);
  // Another client without a token is on the free tier.
  CHECK(h.probe_reply(h.send(probe(600), kClient6)).flow_control.tier == 0);
}

TEST_CASE("Binding gets only XOR-MAPPED-ADDRESS, and FINGERPRINT when asked") {
  Harness h;
  h.responder.set_snapshot(snapshot_of(base_snapshot(2)));
  struct Case {
    bool fingerprint;
    Endpoint from;
    size_t request_size;
    size_t reply_size;
  };
  for (const Case c : {Case{false, kClient, 20, 32}, Case{true, kClient, 28, 40},
                       Case{false, kClient6, 20, 44}, Case{true, kClient6, 28, 52}}) {
    const auto in = binding(c.fingerprint);
    REQUIRE(in.size() == c.request_size);
    const Outcome o = h.send(in, c.from);
    REQUIRE(o.what == Disposition::kReply);
    CHECK(o.size == c.reply_size);
    const auto view = proto::parse_message(std::span<const uint8_t>(h.out.data(), o.size));
    REQUIRE(view.ok());
    const auto response = proto::decode_binding_response(*view);
    REQUIRE(response.ok());
    CHECK(response->transaction_id == tid(0x22));
    CHECK(response->mapped == c.from);
    CHECK(response->fingerprint == c.fingerprint);
    // The amplification budget: at most 1.6x the request for IPv4 (an IPv6 address is 12
    // bytes longer, which no STUN server can avoid).
    if (c.from.family == Family::kV4) CHECK(o.size * 10 <= c.request_size * 16);
  }
  CHECK(h.requests(RequestKind::kBinding) == 4);
}

TEST_CASE("anything that fails to decode gets no reply") {
  Harness h;
  h.responder.set_snapshot(snapshot_of(base_snapshot(4)));
  uint64_t expected_drops = 0;
  auto check_silent = [&](std::span<const uint8_t> in) {
    const Outcome o = h.send(in);
    CHECK(o.what == Disposition::kDrop);
    CHECK(o.reason == DropReason::kMalformed);
    ++expected_drops;
  };
  check_silent({});
  const std::vector<uint8_t> junk(100, 0x41);
  check_silent(junk);
  const auto good = probe(100);
  check_silent(std::span(good).first(19));
  check_silent(std::span(good).first(good.size() - 4));
  // Every single-byte corruption of a valid Probe.
  for (size_t i = 0; i < good.size(); ++i) {
    CAPTURE(i);
    auto bad = good;
    bad[i] ^= 0x5A;
    check_silent(bad);
  }
  // Well framed, but a Probe without FINGERPRINT or with a CHILDREN-WANTED of the wrong size.
  std::vector<uint8_t> buf(256);
  proto::MessageBuilder b(buf);
  b.start(proto::Method::kProbe, proto::MessageClass::kRequest, tid(1));
  b.add_padding(200);
  check_silent(std::span(buf).first(*b.finish()));
  b.start(proto::Method::kProbe, proto::MessageClass::kRequest, tid(1));
  b.add_padding(200);
  b.add_raw(proto::attr::kChildrenWanted, std::array<uint8_t, 2>{0, 3});
  b.add_fingerprint();
  check_silent(std::span(buf).first(*b.finish()));
  CHECK(h.drops(DropReason::kMalformed) == expected_drops);
  CHECK(h.responder.counters().replies.get() == 0);
}

TEST_CASE("an unknown comprehension-required attribute: 420, if it is no larger") {
  Harness h;
  h.responder.set_snapshot(snapshot_of(base_snapshot(4)));
  for (const proto::Method method : {proto::Method::kProbe, proto::Method::kBinding}) {
    const auto big = with_unknown_attribute(method, 80, true);
    const Outcome o = h.send(big);
    REQUIRE(o.what == Disposition::kReply);
    CHECK(o.size <= big.size());
    const auto view = proto::parse_message(std::span<const uint8_t>(h.out.data(), o.size));
    REQUIRE(view.ok());
    const auto error = proto::decode_error_response(*view);
    REQUIRE(error.ok());
    CHECK(error->method == method);
    CHECK(error->code == 420);
    CHECK(error->unknown_attributes == std::vector<uint16_t>{0x7F01});
    // Too small to answer without amplifying: silence.
    const auto small = with_unknown_attribute(method, 0, true);
    const Outcome silent = h.send(small);
    CHECK(silent.what == Disposition::kDrop);
    CHECK(silent.reason == DropReason::kAmplification);
  }
  CHECK(h.drops(DropReason::kAmplification) == 2);
}

// Found by the flood test (tests/stress/flood.py): a Probe whose FINGERPRINT type was
// corrupted in transit (0x8028 -> 0x1328) no longer carries FINGERPRINT but an unknown
// comprehension-required attribute, and was answered with 420. A Probe without FINGERPRINT
// is not ours or not intact: it gets nothing, whatever else it carries. (Heartbeat and
// Leave: heartbeat_auth_test.)
TEST_CASE("a Probe whose FINGERPRINT was corrupted gets no 420") {
  Harness h;
  h.responder.set_snapshot(snapshot_of(base_snapshot(4)));
  auto corrupted = with_unknown_attribute(proto::Method::kProbe, 80, true);
  const size_t fingerprint_type = corrupted.size() - 8;
  REQUIRE(proto::load_u16(corrupted.data() + fingerprint_type) == 0x8028);
  corrupted[fingerprint_type] = 0x13;
  for (const auto& in : {corrupted, with_unknown_attribute(proto::Method::kProbe, 80, false)}) {
    const Outcome o = h.send(in);
    CHECK(o.what == Disposition::kDrop);
    CHECK(o.reason == DropReason::kMalformed);
  }
  CHECK(h.drops(DropReason::kMalformed) == 2);
  CHECK(h.responder.counters().replies.get() == 0);
}

// PROTOCOL.md §1 and §5: a draining node sets the draining bit, so clients must see it.
// Found by comparing the document with the server: a draining node used to go silent.
TEST_CASE("without a snapshot nothing is answered; while draining, replies say so") {
  Harness h;
  CHECK(h.send(probe(600)).reason == DropReason::kNotReady);
  CHECK(h.send(binding(true)).reason == DropReason::kNotReady);
  CHECK(h.drops(DropReason::kNotReady) == 2);
  Snapshot s = base_snapshot(2);
  s.draining = true;
  h.responder.set_snapshot(snapshot_of(s));
  const Outcome draining = h.send(probe(600));
  REQUIRE(draining.what == Disposition::kReply);
  CHECK(h.probe_reply(draining).reply_flags == proto::reply_flag::kDraining);
  CHECK(h.probe_reply(draining).children.size() == 2);
  CHECK(h.send(binding(true)).what == Disposition::kReply);
  s.draining = false;
  h.responder.set_snapshot(snapshot_of(s));
  const Outcome active = h.send(probe(600));
  REQUIRE(active.what == Disposition::kReply);
  CHECK(h.probe_reply(active).reply_flags == 0);
}

TEST_CASE("control traffic from children and parents is forwarded; stray messages are dropped") {
  Harness h;
  const Endpoint child = Endpoint::v4(10, 0, 0, 1, 3479);
  const Endpoint parent = Endpoint::v4(10, 0, 0, 9, 3478);
  Snapshot s = base_snapshot(2);
  s.draining = true;  // Heartbeats and Leaves still reach the control core while draining.
  s.child_sources = {child};
  s.parent_sources = {parent};
  h.responder.set_snapshot(snapshot_of(s));
  std::vector<uint8_t> buf(512);
  auto forwarded = [&](Result<size_t, proto::EncodeError> size, const Endpoint& from) {
    REQUIRE(size.ok());
    const Outcome o = h.send(std::span(buf).first(*size), from);
    CHECK(o.what == Disposition::kForward);
    CHECK(o.known);
  };
  proto::HeartbeatRequest hb;
  hb.transaction_id = tid(5);
  hb.node_name = "child-a";
  hb.advertised = {child};
  hb.timestamp_ms = kWall * 1000;
  forwarded(proto::encode_heartbeat_request(hb, {}, buf), child);
  proto::LeaveRequest leave;
  leave.transaction_id = tid(6);
  leave.node_name = "child-a";
  forwarded(proto::encode_leave_request(leave, {}, buf), child);
  proto::HeartbeatResponse hb_response;
  hb_response.transaction_id = tid(7);
  hb_response.node_name = "parent";
  forwarded(proto::encode_heartbeat_response(hb_response, {}, buf), parent);
  forwarded(
      proto::encode_error_response({tid(9), proto::Method::kHeartbeat, 401, "no", {}, true}, buf),
      parent);
  // Control traffic is counted by the control core, not twice here.
  CHECK(h.requests(RequestKind::kHeartbeat) == 0);
  // Responses from anyone but a parent are not read.
  auto size = proto::encode_binding_response({tid(8), kClient, true}, buf);
  REQUIRE(size.ok());
  CHECK(h.send(std::span(buf).first(*size), child).reason == DropReason::kUnexpected);

  proto::MessageBuilder b(buf);
  b.start(proto::Method::kBinding, proto::MessageClass::kIndication, tid(10));
  b.add_fingerprint();
  const Outcome o = h.send(std::span(buf).first(*b.finish()));
  CHECK(o.what == Disposition::kDrop);
  CHECK(o.reason == DropReason::kUnexpected);
  b.start(static_cast<proto::Method>(0x0B0F), proto::MessageClass::kRequest, tid(11));
  b.add_fingerprint();
  CHECK(h.send(std::span(buf).first(*b.finish())).reason == DropReason::kUnexpected);
  CHECK(h.requests(RequestKind::kOther) == 2);
  CHECK(h.drops(DropReason::kUnexpected) == 3);
}

// Found by an attack run: strangers' Heartbeat and Leave went to the control core uncharged
// (an HMAC and an answer each), and control datagrams of any size were passed on.
TEST_CASE("strangers' Heartbeat and Leave are screened: unread, charged, and budgeted") {
  AdmissionConfig c;
  c.tiers = {TierConfig{"free", 0, 20, 5}};
  c.unknown_control_rate = 50;
  Harness h(c);
  const Endpoint child = Endpoint::v4(10, 0, 0, 1, 3479);
  Snapshot s = base_snapshot(2);
  s.child_sources = {child};
  h.responder.set_snapshot(snapshot_of(s));
  std::vector<uint8_t> buf(512);
  proto::HeartbeatRequest hb;
  hb.transaction_id = tid(5);
  hb.node_name = "anyone";
  hb.advertised = {child};
  auto size = proto::encode_heartbeat_request(hb, {}, buf);
  REQUIRE(size.ok());
  const std::span<const uint8_t> heartbeat = std::span(buf).first(*size);

  SUBCASE("no dynamic children: a stranger's are dropped unread") {
    for (int i = 0; i < 100; ++i)
      CHECK(h.send(heartbeat, kClient).reason == DropReason::kAuth);
    CHECK(h.requests(RequestKind::kHeartbeat) == 100);
    CHECK(h.send(heartbeat, child).what == Disposition::kForward);
  }
  SUBCASE("dynamic children: one stranger gets its bucket's worth, all of them the budget") {
    s.accepts_strangers = true;
    h.responder.set_snapshot(snapshot_of(s));
    int passed = 0;
    for (int i = 0; i < 100; ++i)
      passed += h.send(heartbeat, kClient).what == Disposition::kForward ? 1 : 0;
    CHECK(passed == 20);  // other_cost 1 from a burst of 20.
    for (uint32_t i = 0; i < 1000; ++i) {
      const Endpoint from =
          Endpoint::v4(100, 64, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 5000);
      passed += h.send(heartbeat, from).what == Disposition::kForward ? 1 : 0;
    }
    CHECK(passed == 50);  // The stranger budget: 50 at once.
    CHECK(h.drops(DropReason::kRateLimited) == 1100 - 50);
    // A child is never held back by either.
    for (int i = 0; i < 1000; ++i)
      REQUIRE(h.send(heartbeat, child).known);
  }
  SUBCASE("over 1500 bytes: dropped, even from a child") {
    std::vector<uint8_t> big(2000);
    proto::MessageBuilder b(big);
    b.start(proto::Method::kHeartbeat, proto::MessageClass::kRequest, tid(1));
    b.add_padding(1600);
    b.add_fingerprint();
    auto n = b.finish();
    REQUIRE(n.ok());
    CHECK(h.send(std::span(big).first(*n), child).reason == DropReason::kMalformed);
  }
}

// Found by a flood run: Heartbeats spoofed from a child's address (with any signature) all
// went to the control core's queue for children, where they took the real child's place;
// the child went suspect. With a key only what the child signed gets through.
TEST_CASE("with a key, only signed, fresh requests from a child's address are passed on") {
  Harness h;
  const Endpoint child = Endpoint::v4(10, 0, 0, 1, 3479);
  const Endpoint other_child = Endpoint::v4(10, 0, 0, 2, 3479);
  Snapshot s = base_snapshot(2);
  s.child_sources = {child, other_child};
  s.cluster_key = kKey;
  s.replay_window = 30s;
  h.responder.set_snapshot(snapshot_of(s));
  std::vector<uint8_t> buf(512);
  proto::HeartbeatRequest hb;
  hb.transaction_id = tid(5);
  hb.node_name = "child-a";
  hb.advertised = {child};
  hb.timestamp_ms = kWall * 1000;
  auto signed_with = [&](std::string_view key, uint64_t timestamp_ms) {
    hb.timestamp_ms = timestamp_ms;
    auto size = proto::encode_heartbeat_request(hb, bytes_of(key), buf);
    REQUIRE(size.ok());
    return std::vector<uint8_t>(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*size));
  };
  auto passed = [&](const std::vector<uint8_t>& in, const Endpoint& from, int times,
                    TimePoint now = kStart) {
    int n = 0;
    for (int i = 0; i < times; ++i)
      n += h.send(in, from, now).what == Disposition::kForward ? 1 : 0;
    return n;
  };
  const uint64_t t0 = kWall * 1000;

  SUBCASE("a forged flood: a few per second reach the control core, the child always does") {
    const auto forged = signed_with("not the key", t0);
    const auto unsigned_hb = signed_with("", t0);
    CHECK(passed(forged, child, 1000) + passed(unsigned_hb, child, 1000) == 4);
    CHECK(h.drops(DropReason::kAuth) == 1996);
    CHECK(h.requests(RequestKind::kHeartbeat) == 1996);
    CHECK(passed(signed_with(kKey, t0 + 1000), child, 1) == 1);
    CHECK(passed(forged, child, 10, kStart + 1s) == 4);  // The budget refills.
  }
  SUBCASE("a replayed heartbeat: passed on for a duplicate or two, then as a refusal") {
    const auto real = signed_with(kKey, t0);
    CHECK(passed(real, child, 1000) == 3 + 4);
    CHECK(passed(signed_with(kKey, t0 - 1000), child, 10) == 0);  // Older.
    CHECK(passed(signed_with(kKey, t0 + 1000), child, 1) == 1);   // Newer.
    CHECK(passed(real, other_child, 1) == 1);                     // Another address keeps its own.
  }
  SUBCASE("the last timestamp outlives a new snapshot, and goes with its address") {
    const auto real = signed_with(kKey, t0);
    CHECK(passed(real, child, 3) == 3);
    s.child_sources = {Endpoint::v4(10, 0, 0, 0, 1), child};  // Its index moves.
    h.responder.set_snapshot(snapshot_of(s));
    CHECK(passed(real, child, 10) == 4);  // As refusals only.
    s.child_sources = {other_child};
    h.responder.set_snapshot(snapshot_of(s));
    s.child_sources = {child};
    h.responder.set_snapshot(snapshot_of(s));
    CHECK(passed(real, child, 10) == 3);  // Forgotten with the address: a new child.
    CHECK(h.drops(DropReason::kAuth) == 6 + 7);
  }
  // Found in review: the mark moved for anything signed, so one datagram from a key holder
  // (or a replay of another node's heartbeat) spoofed from the child's address, with a
  // far-future TIMESTAMP, shut the real child out until a restart.
  SUBCASE("only what the control core will accept moves the mark") {
    s.child_source_names = {"child-a", "child-b"};
    h.responder.set_snapshot(snapshot_of(s));
    const auto far_future = signed_with(kKey, t0 + 3'600'000);
    hb.node_name = "child-b";
    const auto other_name = signed_with(kKey, t0 + 2000);
    hb.node_name = "child-a";
    CHECK(passed(far_future, child, 10) + passed(other_name, child, 10) == 4);  // Refusals.
    CHECK(passed(signed_with(kKey, t0 + 1000), child, 1) == 1);
    CHECK(passed(signed_with(kKey, t0 + 3000), child, 1, kStart + 1s) == 1);
    // 31 s off our clock (whole seconds, plus one for rounding): refused.
    CHECK(passed(signed_with(kKey, t0 + 32'000), child, 10, kStart + 2s) ==
          4);  // The refusal budget, all of it.
    CHECK(passed(signed_with(kKey, t0 + 4000), child, 1, kStart + 2s) == 1);
  }
  SUBCASE("during a key rotation the second key counts") {
    s.accept_key = "next key";
    h.responder.set_snapshot(snapshot_of(s));
    CHECK(passed(signed_with("next key", t0), child, 1) == 1);
  }
  SUBCASE("without a key the address is all there is") {
    s.cluster_key.clear();
    h.responder.set_snapshot(snapshot_of(s));
    CHECK(passed(signed_with("", t0), child, 100) == 100);
  }
}

TEST_CASE("reply sizes land in their histogram bucket") {
  Harness h;
  h.responder.set_snapshot(snapshot_of(base_snapshot(32)));
  REQUIRE(h.send(binding(false)).size == 32);  // <= 64.
  const Outcome big = h.send(probe(1200));     // 32 children: (512, 1024].
  REQUIRE(big.what == Disposition::kReply);
  REQUIRE(big.size > 512);
  REQUIRE(big.size <= 1024);
  const auto& buckets = h.responder.counters().reply_size_buckets;
  CHECK(buckets[0].get() == 1);
  CHECK(buckets[4].get() == 1);
  CHECK(h.responder.counters().reply_bytes.get() == 32 + big.size);
}

TEST_CASE("a warm responder allocates nothing per datagram") {
  const auto token = capacity_token(1);
  const auto full = probe(1200);
  const auto truncating = probe(300);
  const auto with_token = probe(1200, 0, token);
  const auto bind = binding(true);
  const auto unknown = with_unknown_attribute(proto::Method::kProbe, 80, true);
  for (const Strategy strategy : kAllStrategies) {
    CAPTURE(static_cast<int>(strategy));
    Harness h(generous(), kKey);
    Snapshot s = base_snapshot(32);
    s.services = {kService};
    s.listing.strategy = strategy;
    h.responder.set_snapshot(snapshot_of(s));
    // No doctest assertion inside the measured loop: only the responder is counted.
    int replies = 0;
    auto round = [&](uint32_t i) {
      const Endpoint from = Endpoint::v4(198, 51, 100, static_cast<uint8_t>(i % 16), 40000);
      for (const auto* in : {&full, &truncating, &with_token, &bind, &unknown}) {
        replies += h.send(*in, from).what == Disposition::kReply ? 1 : 0;
      }
    };
    for (uint32_t i = 0; i < 16; ++i)
      round(i);  // Warm up: every client seen once.
    const uint64_t before = test::allocation_count();
    for (uint32_t i = 0; i < 1000; ++i)
      round(i);
    const uint64_t allocations = test::allocation_count() - before;
    CHECK(allocations == 0);
    CHECK(replies == 5 * 1016);
  }
}

// Found in review: the worker's heartbeat check made OpenSSL build a MAC context per call
// (12 allocations); the responder now keeps one keyed context per key.
TEST_CASE("checking heartbeats from children reuses one keyed MAC") {
  Harness h;
  const Endpoint child = Endpoint::v4(10, 0, 0, 1, 3479);
  Snapshot s = base_snapshot(2);
  s.child_sources = {child};
  s.cluster_key = kKey;
  s.replay_window = 30s;
  h.responder.set_snapshot(snapshot_of(s));
  // Signed in advance: encoding is the child's work, not the responder's.
  std::vector<std::vector<uint8_t>> heartbeats;
  for (uint64_t i = 0; i < 1016; ++i)
    heartbeats.push_back(heartbeat_from(child, kKey, kWall * 1000 + i));
  int forwarded = 0;
  for (size_t i = 0; i < 16; ++i)  // Warm up.
    forwarded += h.send(heartbeats[i], child).what == Disposition::kForward ? 1 : 0;
  const uint64_t before = test::allocation_count();
  for (size_t i = 16; i < heartbeats.size(); ++i)
    forwarded += h.send(heartbeats[i], child).what == Disposition::kForward ? 1 : 0;
  const uint64_t allocations = test::allocation_count() - before;
  // OpenSSL 3 still copies its inner and outer digest contexts for each MAC (two
  // allocations); a context created per call cost 12.
  MESSAGE("allocations per heartbeat: ", static_cast<double>(allocations) / 1000.0);
  CHECK(allocations <= 2 * 1000);
  CHECK(forwarded == 1016);  // Each one verified and newer than the last: passed on.
}

TEST_CASE("a flood of new sources at the table's bound allocates nothing") {
  AdmissionConfig c = generous();
  c.max_clients = 64;
  Harness h(c);
  h.responder.set_snapshot(snapshot_of(base_snapshot(8)));
  const auto in = probe(1200);
  auto source = [](uint32_t i) {
    return Endpoint::v4(100, static_cast<uint8_t>(64 + (i >> 16)), static_cast<uint8_t>(i >> 8),
                        static_cast<uint8_t>(i), 1);
  };
  int replies = 0;
  for (uint32_t i = 0; i < 64; ++i)
    replies += h.send(in, source(i)).what == Disposition::kReply;
  const uint64_t before = test::allocation_count();
  for (uint32_t i = 64; i < 64 * 20; ++i) {
    replies += h.send(in, source(i)).what == Disposition::kReply;
  }
  const uint64_t allocations = test::allocation_count() - before;
  CHECK(allocations == 0);
  CHECK(replies == 64 * 20);  // The overflow bucket of a generous tier has room for all.
  CHECK(h.responder.admission().tracked_clients() == 64);
  CHECK(h.responder.admission().evictions() == 0);
  CHECK(h.responder.admission().overflow_charges() == 64 * 19);
}

// Child i's own listing: two leaves, each with an IPv4 and an IPv6 address (IPv4 first,
// as the snapshot builder keeps them).
Snapshot with_grandchildren(int children) {
  Snapshot s = base_snapshot(children);
  for (auto& child : s.children) {
    child.leaf = false;
    child.grand_first = static_cast<uint32_t>(s.grandchildren.size());
    const uint8_t n = child.v4->ip[3];
    for (uint8_t g = 1; g <= 2; ++g)
      s.grandchildren.push_back({Endpoint::v4(10, 2, n, g, 3478), true, g, 1});
    child.grand_v4 = 2;
    for (uint8_t g = 1; g <= 2; ++g) {
      s.grandchildren.push_back(
          {Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, n, 0, 0, 0, 0, 0, 0, 0, g}, 3478), true,
           g, 1});
    }
    child.grand_count = static_cast<uint16_t>(s.grandchildren.size() - child.grand_first);
  }
  s.index = index_listing(s.children, s.listing.strategy, s.listing.overload_permille);
  return s;
}

TEST_CASE("depth 2: each listed child's own children follow it, in the client's family") {
  Harness h;
  h.responder.set_snapshot(snapshot_of(with_grandchildren(3)));
  // Depth 1 (an old client): children only.
  const auto plain = h.probe_reply(h.send(probe(1200)));
  CHECK(plain.children.size() == 3);
  CHECK(plain.grandchildren.empty());
  for (const auto& [client, client_family] :
       {std::pair{kClient, Family::kV4}, {kClient6, Family::kV6}}) {
    const Family family = client_family;  // A lambda cannot capture a structured binding.
    CAPTURE(static_cast<int>(family));
    const auto r = h.probe_reply(h.send(probe(1200, 0, {}, 2), client));
    REQUIRE(r.children.size() == 3);
    CHECK((r.reply_flags & proto::reply_flag::kTruncated) == 0);
    REQUIRE(r.grandchildren.size() == 6);
    for (size_t i = 0; i < r.grandchildren.size(); ++i) {
      const proto::Grandchild& g = r.grandchildren[i];
      CHECK(g.parent == i / 2);
      CHECK(g.entry.address.family == family);
      // Under the child listed at `parent`: the third octet (IPv4) or the eighth byte (IPv6)
      // is that child's number.
      const uint8_t child_number = r.children[g.parent].address.ip[family == Family::kV4 ? 3 : 15];
      CHECK(g.entry.address.ip[family == Family::kV4 ? 2 : 7] == child_number);
    }
  }
}

TEST_CASE("depth 2: when room runs out every child keeps its first grandchild before seconds") {
  Harness h;
  h.responder.set_snapshot(snapshot_of(with_grandchildren(3)));
  const auto full = h.probe_reply(h.send(probe(1200, 0, {}, 2)));
  const auto full_size = h.send(probe(1200, 0, {}, 2)).size;
  // Room for the three children and four of the six grandchildren.
  const auto cut = h.probe_reply(h.send(probe(full_size - 2 * 16, 0, {}, 2)));
  CHECK(cut.children.size() == 3);
  CHECK((cut.reply_flags & proto::reply_flag::kTruncated) != 0);
  REQUIRE(cut.grandchildren.size() == 4);
  std::array<int, 3> per_child{};
  for (const auto& g : cut.grandchildren)
    ++per_child[g.parent];
  CHECK(per_child == std::array<int, 3>{2, 1, 1});
  CHECK(full.grandchildren.size() == 6);
  // A request too small for any grandchild still gets every child that fits.
  const auto children_only = h.probe_reply(h.send(probe(full_size - 6 * 16, 0, {}, 2)));
  CHECK(children_only.children.size() == 3);
  CHECK(children_only.grandchildren.empty());
}

}  // namespace turnscout::server
