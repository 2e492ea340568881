// SimNetwork: an in-memory UDP network that drives sans-I/O cores (turnscout::SansIoNode) on
// simulated time, in one thread, reproducibly for a seed. Time jumps from one event to the
// next; nothing sleeps.
//
// A scenario, e.g. a client discovering through a tree of servers with 10% loss each way:
//
//   SimNetwork net(/*seed=*/42, TimePoint{});
//   NodeId root = net.add_node(root_core, {Endpoint::v4(10, 0, 0, 1, 3478)});
//   NodeId leaf = net.add_node(leaf_core, {Endpoint::v4(10, 0, 1, 1, 3478),
//                                          Endpoint::v6(leaf_v6, 3478)});
//   NodeId me = net.add_node(client_core, {Endpoint::v4(192, 0, 2, 7, 40000)});
//   net.set_default_link({.delay = 20ms, .jitter = 5ms, .loss = 0.1});
//   net.set_path(me, root, {.delay = 80ms});   // Both directions; overrides the default.
//   net.run_for(5s);                           // Let heartbeats settle.
//   client_core.start_discovery(net.now());    // Poke a core directly...
//   bool done = net.run_until([&] { return client_core.done(); }, net.now() + 10s);
//   CHECK(done);                               // ...the driving call carries what it queued.
//   CHECK(net.errors().empty());
//
// Events are datagram arrivals and node timeouts. An event at time T sets now() to T and
// calls the node (on_datagram or on_timeout, with now() as `now`); right after, the network
// takes the node's poll_transmit() output and schedules it, and re-reads its next_timeout().
// A next_timeout() at or before now() fires at now(). Events at the same instant run in the
// order they were scheduled, so a seed and a scenario give one trace on every machine.
//
// Stream messages (Datagram::transport kTcp, kTls) model one request on a new connection: a
// message whose sender left `local` unset (a client) arrives one round trip of its link
// later than a datagram would (the handshake; two for TLS), and the receiver gets it through
// on_stream_message. Loss, jitter and duplication apply as to datagrams; a test that wants
// TCP's reliability gives the link none.
//
// A datagram goes from its `local` to its `remote`. `local` must be an address of the
// sending node, or unset (Family::kNone) for "the node's first address of the remote's
// family", like a socket bound to the wildcard. Any other `local` is a test bug: the datagram
// is dropped, counted as bad_source and reported in errors(). A datagram to an address no
// node owns is dropped and counted as unknown_destination. The receiver sees the resolved
// `local` as the datagram's remote.
//
// Links model one direction each: delay, jitter (and with it reordering), loss and
// duplication; see LinkParams in tests/sim/link.hpp. Every random draw comes from one
// SeededRandom owned by the network; draws are made only for nonzero parameters.
//
// Not thread-safe. Nodes are not owned and must outlive the network; callbacks (nodes, tap,
// predicates) must not call back into the network.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/random.hpp"
#include "base/sans_io.hpp"
#include "tests/sim/link.hpp"

namespace turnscout::sim {

using NodeId = uint32_t;
inline constexpr NodeId kNoNode = UINT32_MAX;

// Thrown on misuse (unknown node, address owned twice, invalid LinkParams) and when a
// driving call exceeds its event budget: a test bug must fail loudly, not hang.
class SimError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the tap sees of a datagram, at the instant it is sent.
struct TapEvent {
  TimePoint time;
  NodeId from_node;
  NodeId to_node;  // kNoNode when no node owns `to`.
  Endpoint from;
  Endpoint to;
  std::span<const uint8_t> bytes;  // Valid only during the call.
  Transport transport = Transport::kUdp;
  const Datagram* datagram = nullptr;  // All of it (TLS fields too), during the call.
};

enum class TapAction { kPass, kDrop };

using Tap = std::function<TapAction(const TapEvent&)>;

struct NetworkCounters {
  LinkCounters links;                // Sum over every link.
  uint64_t unknown_destination = 0;  // Sent to an address no node owns; dropped.
  uint64_t bad_source = 0;           // Sent from an address the sender does not own; dropped.
  uint64_t timeouts = 0;             // on_timeout calls.
  uint64_t events = 0;               // Arrivals and timeouts processed.
};

class SimNetwork {
 public:
  static constexpr uint64_t kDefaultMaxEvents = 10'000'000;

  SimNetwork(uint64_t seed, TimePoint start);
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // Attaches `node` at `addresses` (at least one; each owned by one node only) and collects
  // its first output and timeout. Ids count up from 0 in the order nodes are added.
  NodeId add_node(SansIoNode& node, std::vector<Endpoint> addresses);
  NodeId node_of(const Endpoint& address) const;  // kNoNode if nobody owns it.
  const std::vector<Endpoint>& addresses(NodeId node) const;
  size_t node_count() const { return nodes_.size(); }

  // Links are one-way. A datagram from address A (of node X) to address B (of node Y) uses,
  // in this order, what was set for (A, B), else for (X, Y), else the default. All links
  // start as LinkParams{} (instant, lossless). Changes apply to datagrams sent afterwards.
  void set_default_link(const LinkParams& params);
  void set_link(NodeId from, NodeId to, const LinkParams& params);
  void set_link(const Endpoint& from, const Endpoint& to, const LinkParams& params);
  // Both directions alike.
  void set_path(NodeId a, NodeId b, const LinkParams& params);
  void set_path(const Endpoint& a, const Endpoint& b, const LinkParams& params);
  LinkParams link_params(const Endpoint& from, const Endpoint& to) const;

  // A down node receives nothing (arrivals are dropped), sends nothing (its output is taken
  // and dropped) and gets no on_timeout. Going down first collects what it had queued, as
  // sent just before the crash. Coming back up re-reads next_timeout(): a deadline that
  // passed meanwhile fires at once.
  void set_node_down(NodeId node, bool down);
  bool node_down(NodeId node) const;

  // Cuts both directions between two nodes until heal(); datagrams already in flight
  // between them are dropped on arrival. To cut one address pair only, give that pair a
  // link with loss = 1.
  void partition(NodeId a, NodeId b);
  void heal(NodeId a, NodeId b);
  bool partitioned(NodeId a, NodeId b) const;

  // Sees every datagram a node sends from an address it owns, before loss and partitions;
  // kDrop drops it (counted as tap_dropped). One tap at a time; an empty function removes it.
  void set_tap(Tap tap);

  TimePoint now() const { return now_; }

  // After a test calls a core directly (e.g. start_discovery(net.now())), the core's output
  // and timeout must be collected: kick() does it for one node, flush() for all. Every
  // driving call below starts with flush(), so an explicit call is rarely needed.
  void kick(NodeId node);
  void flush();

  // Each driving call processes at most max_events() events and throws SimError beyond.
  void set_max_events(uint64_t max_events) { max_events_ = max_events; }
  uint64_t max_events() const { return max_events_; }

  // Processes the earliest event. False when there is none.
  bool step();
  // Processes every event up to and including `deadline`, then sets now() to it (if later).
  void run_until(TimePoint deadline);
  void run_for(Duration duration);
  // Runs until no datagram is in flight and no node has a timeout; throws SimError after
  // `max_events` events. Never returns normally while a core keeps a periodic timer: use
  // run_for or a predicate for those.
  void run_until_idle(uint64_t max_events = 1'000'000);
  // Runs until `done()` holds (checked before each event and after each) and returns true
  // with now() at the event that made it hold; or returns false with now() at `deadline`.
  bool run_until(const std::function<bool()>& done, TimePoint deadline);

  bool idle() const { return arrivals_.empty() && timers_.empty(); }
  TimePoint next_event_time() const;  // kNever when idle.
  size_t in_flight() const { return arrivals_.size(); }

  // Zero counters for a pair that never carried anything.
  LinkCounters counters(const Endpoint& from, const Endpoint& to) const;
  // Sum over every address pair from `from` to `to`.
  LinkCounters counters(NodeId from, NodeId to) const;
  NetworkCounters totals() const;

  // Test bugs seen while routing (e.g. a datagram sent from an address its node does not
  // own), one line each, capped. Scenario tests should CHECK(net.errors().empty()).
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  struct AddressPair {
    Endpoint from;
    Endpoint to;
    friend bool operator==(const AddressPair&, const AddressPair&) = default;
  };
  struct AddressPairHash {
    size_t operator()(const AddressPair& p) const noexcept;
  };
  struct TimerKey {
    TimePoint at;
    uint64_t seq;
    NodeId node;
    friend bool operator<(const TimerKey& a, const TimerKey& b) {
      return a.at != b.at ? a.at < b.at : a.seq < b.seq;
    }
  };
  struct Arrival {
    TimePoint at;
    uint64_t seq;
    uint32_t slot;  // Index into flights_.
    friend bool operator>(const Arrival& a, const Arrival& b) {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };
  struct Flight {
    Endpoint from;
    Endpoint to;
    NodeId from_node = kNoNode;
    NodeId to_node = kNoNode;
    Link* link = nullptr;  // Stable: unordered_map never moves its elements.
    std::vector<uint8_t> bytes;
    Transport transport = Transport::kUdp;
  };
  struct NodeState {
    SansIoNode* node = nullptr;
    std::vector<Endpoint> addresses;
    bool down = false;
    std::optional<TimerKey> timer;  // The entry of timers_ for this node, if any.
  };

  NodeState& state(NodeId node);
  const NodeState& state(NodeId node) const;
  std::optional<Endpoint> source_of(NodeId node, const Datagram& datagram) const;
  const LinkParams& params_for(const AddressPair& pair, NodeId from, NodeId to) const;

  void collect(NodeId node);
  void route(NodeId from_node, Datagram& datagram);
  void schedule(TimePoint at, Flight flight);
  void arm_timer(NodeId node);
  void disarm_timer(NodeId node);

  bool process_next();
  void deliver(uint32_t slot);
  void fire(NodeId node);
  // Processes the next event if it is due by `limit`; throws once `count` reached the budget.
  bool run_one(TimePoint limit, uint64_t& count, uint64_t max_events);
  [[noreturn]] void fail_budget(uint64_t max_events) const;
  void record_error(std::string message);

  SeededRandom random_;
  TimePoint now_;
  uint64_t seq_ = 0;
  uint64_t max_events_ = kDefaultMaxEvents;

  std::vector<NodeState> nodes_;
  std::unordered_map<Endpoint, NodeId> owner_;

  LinkParams default_params_;
  std::unordered_map<uint64_t, LinkParams> node_params_;  // Keyed by (from << 32 | to).
  std::unordered_map<AddressPair, LinkParams, AddressPairHash> address_params_;
  std::unordered_map<AddressPair, Link, AddressPairHash> links_;
  std::unordered_set<uint64_t> partitions_;  // Keyed by (min << 32 | max).
  Tap tap_;

  std::priority_queue<Arrival, std::vector<Arrival>, std::greater<>> arrivals_;
  std::vector<Flight> flights_;
  std::vector<uint32_t> free_slots_;
  std::set<TimerKey> timers_;
  std::vector<Datagram> outbox_;  // Reused by collect().

  uint64_t unknown_destination_ = 0;
  uint64_t bad_source_ = 0;
  uint64_t timeouts_ = 0;
  uint64_t events_ = 0;
  NodeId last_node_ = kNoNode;  // Of the last event, for the budget error message.
  bool last_was_timeout_ = false;
  std::vector<std::string> errors_;
};

}  // namespace turnscout::sim
