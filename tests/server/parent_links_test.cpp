#include "server/core/parent_links.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "base/random.hpp"
#include "common/logging.hpp"
#include "proto/error_response.hpp"
#include "server/io/log_events.hpp"
#include "tests/server/control_test_util.hpp"

namespace turnscout::server {
namespace {

using testing::addr;
using testing::bytes_of;
using testing::kWallStart;

const Endpoint kSelf = addr(1, 11);
const Endpoint kSelf6 =
    Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1, 0x11}, 3479);
const Endpoint kParentA = addr(0, 1);
const Endpoint kParentB = addr(0, 2);
const TimePoint kT0 = TimePoint{} + 50s;

proto::HeartbeatRequest content() {
  proto::HeartbeatRequest hb;
  hb.node_name = "leaf-1";
  hb.advertised = {kSelf};
  hb.load = {250, 900};
  hb.subtree = {1, 250, 0};
  return hb;
}

ParentLinksConfig links_config(std::vector<Endpoint> parents, std::string key = {}) {
  ParentLinksConfig c;
  c.parents = std::move(parents);
  c.listen = {kSelf, kSelf6};
  c.interval = 1s;
  c.missed = 3;
  c.key = std::move(key);
  return c;
}

// Drives ParentLinks like a driver would and keeps what it sends.
struct Harness {
  explicit Harness(ParentLinksConfig config)
      : links(std::move(config), kT0, log_events()), random(7) {}

  void run_until(TimePoint until) {
    while (links.next_timeout() <= until) {
      const TimePoint t = links.next_timeout();
      links.on_timeout(t, wall(t), content(), random, sent);
    }
  }
  WallTime wall(TimePoint t) const {
    return kWallStart + std::chrono::duration_cast<std::chrono::milliseconds>(t - kT0);
  }
  proto::HeartbeatRequest decode_heartbeat(const Datagram& d) const {
    auto view = proto::parse_message(d.bytes);
    REQUIRE(view);
    auto hb = proto::decode_heartbeat_request(*view);
    REQUIRE(hb);
    return *hb;
  }
  std::vector<uint8_t> answer(const Datagram& d, const std::string& key = {}) const {
    auto view = proto::parse_message(d.bytes);
    REQUIRE(view);
    std::vector<uint8_t> out(512);
    Result<size_t, proto::EncodeError> size = 0;
    if (view->method() == proto::Method::kHeartbeat) {
      proto::HeartbeatResponse r;
      r.transaction_id = view->transaction_id();
      r.node_name = "parent";
      r.timestamp_ms = decode_heartbeat(d).timestamp_ms;
      size = proto::encode_heartbeat_response(r, bytes_of(key), out);
    } else {
      proto::LeaveResponse r;
      r.transaction_id = view->transaction_id();
      r.node_name = "parent";
      size = proto::encode_leave_response(r, bytes_of(key), out);
    }
    REQUIRE(size);
    out.resize(*size);
    return out;
  }
  ResponseMatch deliver(TimePoint now, const Endpoint& from, const std::vector<uint8_t>& bytes) {
    auto view = proto::parse_message(bytes);
    REQUIRE(view);
    return links.on_response(now, from, *view);
  }

  ParentLinks links;
  SeededRandom random;
  std::vector<Datagram> sent;
};

TEST_CASE("a heartbeat to every parent every interval, from the listen address, fresh ids") {
  Harness h(links_config({kParentA, kParentB}));
  CHECK(h.links.next_timeout() == kT0);
  h.run_until(kT0 + 2500ms);
  REQUIRE(h.sent.size() == 6);
  std::set<proto::TransactionId> tids;
  uint64_t last_ts_a = 0;
  for (size_t i = 0; i < h.sent.size(); ++i) {
    const Datagram& d = h.sent[i];
    CHECK(d.local == kSelf);
    CHECK(d.remote == (i % 2 == 0 ? kParentA : kParentB));
    const auto hb = h.decode_heartbeat(d);
    CHECK(hb.node_name == "leaf-1");
    CHECK(hb.load.load_permille == 250);
    CHECK_FALSE(hb.has_integrity);
    tids.insert(hb.transaction_id);
    if (d.remote == kParentA) {
      CHECK(hb.timestamp_ms > last_ts_a);
      last_ts_a = hb.timestamp_ms;
    }
  }
  CHECK(tids.size() == 6);
  CHECK(h.links.next_timeout() == kT0 + 3s);
  CHECK(h.links.status()[0].heartbeats_sent == 3);
}

TEST_CASE("an IPv6 parent gets heartbeats from the IPv6 listen address") {
  const Endpoint parent6 =
      Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 3479);
  Harness h(links_config({parent6}));
  h.run_until(kT0);
  REQUIRE(h.sent.size() == 1);
  CHECK(h.sent[0].local == kSelf6);
}

TEST_CASE("responses are matched by transaction id and source; RTT is measured") {
  LogCapture log;
  Harness h(links_config({kParentA, kParentB}));
  h.run_until(kT0);
  REQUIRE(h.sent.size() == 2);
  const auto answer_a = h.answer(h.sent[0]);
  // From the wrong parent, or for the wrong tid: not ours.
  CHECK(h.deliver(kT0 + 10ms, kParentB, answer_a) == ResponseMatch::kUnmatched);
  CHECK(h.deliver(kT0 + 10ms, addr(9, 9), answer_a) == ResponseMatch::kUnmatched);
  CHECK(h.deliver(kT0 + 40ms, kParentA, answer_a) == ResponseMatch::kMatched);
  // A duplicate is no longer pending.
  CHECK(h.deliver(kT0 + 41ms, kParentA, answer_a) == ResponseMatch::kUnmatched);
  const auto status = h.links.status();
  CHECK(status[0].up);
  CHECK(status[0].last_rtt == 40ms);
  CHECK(status[0].heartbeats_answered == 1);
  CHECK_FALSE(status[1].up);
  CHECK(log.count("parent 10.0.0.1:3479 up (rtt 40ms)") == 1);
}

// Found in review: PROTOCOL.md §10 says a success response echoes the request's TIMESTAMP,
// and the child matched on the transaction id alone.
TEST_CASE("a success response must echo the request's TIMESTAMP") {
  Harness h(links_config({kParentA}));
  h.run_until(kT0);
  const auto view = proto::parse_message(h.sent[0].bytes);
  REQUIRE(view);
  proto::HeartbeatResponse r;
  r.transaction_id = view->transaction_id();
  r.node_name = "parent";
  r.timestamp_ms = h.decode_heartbeat(h.sent[0]).timestamp_ms + 1;
  std::vector<uint8_t> out(512);
  auto size = proto::encode_heartbeat_response(r, {}, out);
  REQUIRE(size);
  out.resize(*size);
  CHECK(h.deliver(kT0 + 5ms, kParentA, out) == ResponseMatch::kUnmatched);
  CHECK_FALSE(h.links.status()[0].up);
  CHECK(h.deliver(kT0 + 6ms, kParentA, h.answer(h.sent[0])) == ResponseMatch::kMatched);
  CHECK(h.links.status()[0].up);
}

TEST_CASE("a late answer to an earlier heartbeat still counts") {
  Harness h(links_config({kParentA}));
  h.run_until(kT0 + 1s);
  REQUIRE(h.sent.size() == 2);
  CHECK(h.deliver(kT0 + 1200ms, kParentA, h.answer(h.sent[0])) == ResponseMatch::kMatched);
  CHECK(h.links.status()[0].last_rtt == 1200ms);
}

TEST_CASE("a parent goes silent after `missed` unanswered heartbeats and comes back") {
  LogCapture log;
  Harness h(links_config({kParentA}));
  h.run_until(kT0);
  REQUIRE(h.deliver(kT0 + 5ms, kParentA, h.answer(h.sent.back())) == ResponseMatch::kMatched);
  h.run_until(kT0 + 3s);  // Heartbeats at 1, 2, 3 s: unanswered, but only 3 so far.
  CHECK(h.links.status()[0].up);
  CHECK(log.count("silent") == 0);
  h.run_until(kT0 + 4s);  // The heartbeat at 4 s finds 3 unanswered ones.
  CHECK_FALSE(h.links.status()[0].up);
  CHECK(h.links.status()[0].silent);
  CHECK(log.count("parent 10.0.0.1:3479 silent (3 heartbeats unanswered)") == 1);
  h.run_until(kT0 + 10s);
  CHECK(log.count("silent") == 1);  // Once per state change.
  REQUIRE(h.deliver(kT0 + 10s + 7ms, kParentA, h.answer(h.sent.back())) == ResponseMatch::kMatched);
  CHECK(h.links.status()[0].up);
  CHECK(log.count("parent 10.0.0.1:3479 back (rtt 7ms)") == 1);
}

// Found by the flood test: a parent flooded beyond what it can read loses some of every
// kind of datagram, and one lost heartbeat made its child suspect there for the rest of
// the interval. An up parent's unanswered heartbeat is now followed by up to two more.
TEST_CASE("an unanswered heartbeat to an up parent is retried within the interval") {
  Harness h(links_config({kParentA}));
  h.run_until(kT0);
  REQUIRE(h.deliver(kT0 + 10ms, kParentA, h.answer(h.sent.back())) == ResponseMatch::kMatched);
  h.run_until(kT0 + 1s);  // The heartbeat at 1 s is lost.
  REQUIRE(h.sent.size() == 2);
  // Four RTTs (40 ms) are below the floor: the retry comes 100 ms later, a fresh heartbeat.
  h.run_until(kT0 + 1s + 99ms);
  CHECK(h.sent.size() == 2);
  h.run_until(kT0 + 1s + 100ms);
  REQUIRE(h.sent.size() == 3);
  const auto first = h.decode_heartbeat(h.sent[1]);
  const auto retry = h.decode_heartbeat(h.sent[2]);
  CHECK(retry.transaction_id != first.transaction_id);
  CHECK(retry.timestamp_ms > first.timestamp_ms);
  // Answered: no more until the next interval.
  REQUIRE(h.deliver(kT0 + 1s + 110ms, kParentA, h.answer(h.sent[2])) == ResponseMatch::kMatched);
  h.run_until(kT0 + 2s - 1ms);
  CHECK(h.sent.size() == 3);
  // Never answered: two retries an interval, and `missed` still counts intervals.
  h.run_until(kT0 + 3s - 1ms);
  CHECK(h.sent.size() == 3 + 1 + 2);
  h.run_until(kT0 + 4s - 1ms);
  CHECK(h.links.status()[0].up);
  h.run_until(kT0 + 5s);
  CHECK(h.links.status()[0].silent);
  // A silent parent gets the heartbeat of each interval only.
  const size_t before = h.sent.size();
  h.run_until(kT0 + 8s - 1ms);
  CHECK(h.sent.size() == before + 2);
}

TEST_CASE("a parent that never answers is reported silent once") {
  LogCapture log;
  Harness h(links_config({kParentA}));
  h.run_until(kT0 + 10s);
  CHECK(log.count("parent 10.0.0.1:3479 silent") == 1);
}

TEST_CASE("error responses are logged once per code and do not make a parent up") {
  LogCapture log;
  Harness h(links_config({kParentA}));
  for (int i = 0; i < 3; ++i) {
    h.run_until(kT0 + i * 1s);
    auto view = proto::parse_message(h.sent.back().bytes);
    REQUIRE(view);
    std::vector<uint8_t> out(512);
    auto size = proto::make_error_response(*view, 403, "unknown child", 512, out);
    REQUIRE(size);
    out.resize(*size);
    CHECK(h.deliver(kT0 + i * 1s + 1ms, kParentA, out) == ResponseMatch::kMatched);
  }
  CHECK_FALSE(h.links.status()[0].up);
  CHECK(h.links.status()[0].last_error == 403);
  CHECK(log.count("parent 10.0.0.1:3479 rejects our heartbeats: 403 unknown child") == 1);
}

TEST_CASE("with a key: requests are signed, unsigned or forged answers are refused") {
  const std::string key = "cluster secret";
  Harness h(links_config({kParentA}, key));
  h.run_until(kT0);
  REQUIRE(h.sent.size() == 1);
  auto view = proto::parse_message(h.sent[0].bytes);
  REQUIRE(view);
  CHECK(proto::verify_integrity_sha256(*view, bytes_of(key)));
  CHECK(h.deliver(kT0 + 1ms, kParentA, h.answer(h.sent[0])) == ResponseMatch::kBadIntegrity);
  CHECK(h.deliver(kT0 + 1ms, kParentA, h.answer(h.sent[0], "other key")) ==
        ResponseMatch::kBadIntegrity);
  CHECK_FALSE(h.links.status()[0].up);
  CHECK(h.deliver(kT0 + 1ms, kParentA, h.answer(h.sent[0], key)) == ResponseMatch::kMatched);
  CHECK(h.links.status()[0].up);
}

TEST_CASE("during a key rotation an answer signed with the second key is accepted") {
  const std::string key = "cluster secret";
  const std::string next = "the next cluster secret";
  ParentLinksConfig config = links_config({kParentA}, key);
  config.accept_key = next;
  Harness h(config);
  h.run_until(kT0);
  REQUIRE(h.sent.size() == 1);
  // Signed with the key this node signs with, never the second one.
  auto view = proto::parse_message(h.sent[0].bytes);
  REQUIRE(view);
  CHECK(proto::verify_integrity_sha256(*view, bytes_of(key)));
  CHECK(h.deliver(kT0 + 1ms, kParentA, h.answer(h.sent[0], "other key")) ==
        ResponseMatch::kBadIntegrity);
  CHECK(h.deliver(kT0 + 1ms, kParentA, h.answer(h.sent[0], next)) == ResponseMatch::kMatched);
  CHECK(h.links.status()[0].up);
}

TEST_CASE("leave: heartbeats stop, Leave is retried until acknowledged") {
  LogCapture log;
  Harness h(links_config({kParentA, kParentB}));
  h.run_until(kT0);
  h.sent.clear();
  CHECK_FALSE(h.links.leave_done());
  h.links.start_leave(kT0 + 200ms);
  h.run_until(kT0 + 200ms);
  REQUIRE(h.sent.size() == 2);
  for (const Datagram& d : h.sent) {
    auto view = proto::parse_message(d.bytes);
    REQUIRE(view);
    CHECK(view->method() == proto::Method::kLeave);
    auto leave = proto::decode_leave_request(*view);
    REQUIRE(leave);
    CHECK(leave->node_name == "leaf-1");
  }
  // Parent A answers the first; parent B only the second try.
  CHECK(h.deliver(kT0 + 210ms, kParentA, h.answer(h.sent[0])) == ResponseMatch::kMatched);
  CHECK(log.count("parent 10.0.0.1:3479 acknowledged our Leave") == 1);
  CHECK_FALSE(h.links.leave_done());
  CHECK(h.links.next_timeout() == kT0 + 500ms);
  h.run_until(kT0 + 500ms);
  REQUIRE(h.sent.size() == 3);
  CHECK(h.sent[2].remote == kParentB);
  CHECK(h.deliver(kT0 + 510ms, kParentB, h.answer(h.sent[2])) == ResponseMatch::kMatched);
  CHECK(h.links.leave_done());
  CHECK(h.links.next_timeout() == kNever);
}

TEST_CASE("leave gives up after 1.5 s of unanswered retries") {
  LogCapture log;
  Harness h(links_config({kParentA}));
  h.links.start_leave(kT0);
  h.run_until(kT0 + 1499ms);
  CHECK(h.sent.size() == 5);  // At 0, 300, 600, 900 and 1200 ms.
  CHECK_FALSE(h.links.leave_done());
  h.run_until(kT0 + 1500ms);
  CHECK(h.links.leave_done());
  CHECK(h.sent.size() == 5);
  CHECK(log.count("parent 10.0.0.1:3479 did not acknowledge our Leave") == 1);
  CHECK(h.links.next_timeout() == kNever);
}

TEST_CASE("no parents: leave is done at once") {
  Harness h(links_config({}));
  CHECK(h.links.next_timeout() == kNever);
  h.links.start_leave(kT0);
  CHECK(h.links.leave_done());
}

TEST_CASE("reconfigure keeps surviving parents' state and greets new ones at once") {
  Harness h(links_config({kParentA}));
  h.run_until(kT0);
  REQUIRE(h.deliver(kT0 + 5ms, kParentA, h.answer(h.sent.back())) == ResponseMatch::kMatched);
  h.links.reconfigure(kT0 + 100ms, links_config({kParentA, kParentB}));
  const auto status = h.links.status();
  REQUIRE(status.size() == 2);
  CHECK(status[0].up);
  CHECK(status[0].heartbeats_sent == 1);
  CHECK(h.links.next_timeout() == kT0 + 100ms);
  h.sent.clear();
  h.run_until(kT0 + 100ms);
  REQUIRE(h.sent.size() == 1);
  CHECK(h.sent[0].remote == kParentB);
  h.links.reconfigure(kT0 + 200ms, links_config({kParentB}));
  CHECK(h.links.status().size() == 1);
}

}  // namespace
}  // namespace turnscout::server
