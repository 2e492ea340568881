// SimNetwork's event loop: routing what nodes send, scheduling arrivals and timeouts, and
// the driving calls. Topology and configuration live in sim_network.cpp.
#include <algorithm>
#include <utility>

#include "base/endpoint.hpp"
#include "tests/sim/sim_network.hpp"

namespace turnscout::sim {

void SimNetwork::collect(NodeId node) {
  NodeState& s = nodes_[node];
  outbox_.clear();
  s.node->poll_transmit(outbox_);
  for (Datagram& datagram : outbox_)
    route(node, datagram);
  outbox_.clear();
  if (s.down) {
    disarm_timer(node);
  } else {
    arm_timer(node);
  }
}

std::optional<Endpoint> SimNetwork::source_of(NodeId node, const Datagram& datagram) const {
  if (datagram.local.family == Family::kNone) {
    for (const Endpoint& a : nodes_[node].addresses) {
      if (a.family == datagram.remote.family) return a;
    }
    return std::nullopt;
  }
  if (node_of(datagram.local) == node) return datagram.local;
  return std::nullopt;
}

void SimNetwork::route(NodeId from_node, Datagram& datagram) {
  const std::optional<Endpoint> from = source_of(from_node, datagram);
  if (!from) {
    ++bad_source_;
    record_error("sim: node " + std::to_string(from_node) + " sent from " +
                 to_string(datagram.local) + ", not an address of its own, to " +
                 to_string(datagram.remote));
    return;
  }
  const AddressPair pair{*from, datagram.remote};
  const NodeId to_node = node_of(pair.to);
  const bool tap_drop =
      tap_ && tap_(TapEvent{now_, from_node, to_node, pair.from, pair.to, datagram.bytes,
                            datagram.transport, &datagram}) == TapAction::kDrop;
  if (to_node == kNoNode) {
    ++unknown_destination_;
    return;
  }
  Link& l = links_[pair];
  LinkCounters& c = l.counters();
  ++c.sent;
  if (tap_drop) {
    ++c.tap_dropped;
    return;
  }
  if (nodes_[from_node].down || nodes_[to_node].down || partitioned(from_node, to_node)) {
    ++c.blocked;
    return;
  }
  const LinkParams params = params_for(pair, from_node, to_node);
  const Fate fate = l.transmit(now_, params, random_);
  // A client's stream message waits for its connection's handshake: one round trip more,
  // and one more for TLS (1.3).
  const bool client_stream =
      datagram.transport != Transport::kUdp && datagram.local.family == Family::kNone;
  const Duration handshake = !client_stream                          ? Duration::zero()
                             : datagram.transport == Transport::kTls ? 4 * params.delay
                                                                     : 2 * params.delay;
  for (int i = 0; i < fate.copies; ++i) {
    const bool last = i + 1 == fate.copies;
    schedule(fate.arrival[i] + handshake,
             Flight{pair.from, pair.to, from_node, to_node, &l,
                    last ? std::move(datagram.bytes) : datagram.bytes, datagram.transport});
  }
}

void SimNetwork::schedule(TimePoint at, Flight flight) {
  uint32_t slot = 0;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(flights_.size());
    flights_.push_back(std::move(flight));
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
    flights_[slot] = std::move(flight);
  }
  arrivals_.push(Arrival{at, seq_++, slot});
}

void SimNetwork::arm_timer(NodeId node) {
  NodeState& s = nodes_[node];
  const TimePoint wanted = s.node->next_timeout();
  if (wanted == kNever) {
    disarm_timer(node);
    return;
  }
  const TimePoint at = std::max(wanted, now_);
  if (s.timer && s.timer->at == at) return;  // Unchanged: keep its place among equals.
  disarm_timer(node);
  s.timer = TimerKey{at, seq_++, node};
  timers_.insert(*s.timer);
}

void SimNetwork::disarm_timer(NodeId node) {
  NodeState& s = nodes_[node];
  if (!s.timer) return;
  timers_.erase(*s.timer);
  s.timer.reset();
}

bool SimNetwork::process_next() {
  if (idle()) return false;
  bool timer_first = arrivals_.empty();
  if (!timer_first && !timers_.empty()) {
    const TimerKey& t = *timers_.begin();
    const Arrival& a = arrivals_.top();
    timer_first = t.at != a.at ? t.at < a.at : t.seq < a.seq;
  }
  ++events_;
  if (timer_first) {
    const TimerKey key = *timers_.begin();
    now_ = key.at;
    fire(key.node);
  } else {
    const Arrival arrival = arrivals_.top();
    arrivals_.pop();
    now_ = arrival.at;
    deliver(arrival.slot);
  }
  return true;
}

void SimNetwork::fire(NodeId node) {
  disarm_timer(node);
  last_node_ = node;
  last_was_timeout_ = true;
  ++timeouts_;
  nodes_[node].node->on_timeout(now_);
  collect(node);
}

void SimNetwork::deliver(uint32_t slot) {
  Flight flight = std::move(flights_[slot]);
  free_slots_.push_back(slot);
  last_node_ = flight.to_node;
  last_was_timeout_ = false;
  // The sender going down after sending does not recall the datagram.
  if (nodes_[flight.to_node].down || partitioned(flight.from_node, flight.to_node)) {
    ++flight.link->counters().blocked;
    return;
  }
  ++flight.link->counters().delivered;
  if (flight.transport == Transport::kUdp) {
    nodes_[flight.to_node].node->on_datagram(now_, flight.to, flight.from, flight.bytes);
  } else {
    nodes_[flight.to_node].node->on_stream_message(now_, flight.transport, flight.to, flight.from,
                                                   flight.bytes);
  }
  collect(flight.to_node);
}

bool SimNetwork::run_one(TimePoint limit, uint64_t& count, uint64_t max_events) {
  if (idle() || next_event_time() > limit) return false;
  if (count == max_events) fail_budget(max_events);
  ++count;
  return process_next();
}

void SimNetwork::fail_budget(uint64_t max_events) const {
  std::string last = "none";
  if (last_node_ != kNoNode) {
    last = std::string(last_was_timeout_ ? "timeout of" : "datagram to") + " node " +
           std::to_string(last_node_);
  }
  throw SimError(
      "sim: more than " + std::to_string(max_events) +
      " events in one driving call (now = " + std::to_string(now_.time_since_epoch().count()) +
      "us, last event: " + last + "); a core that never goes quiet, or a deadline too far ahead");
}

bool SimNetwork::step() {
  flush();
  return process_next();
}

void SimNetwork::run_until(TimePoint deadline) {
  flush();
  uint64_t count = 0;
  while (run_one(deadline, count, max_events_)) {
  }
  now_ = std::max(now_, deadline);
}

void SimNetwork::run_for(Duration duration) {
  run_until(now_ + duration);
}

void SimNetwork::run_until_idle(uint64_t max_events) {
  flush();
  uint64_t count = 0;
  while (run_one(kNever, count, max_events)) {
  }
}

bool SimNetwork::run_until(const std::function<bool()>& done, TimePoint deadline) {
  flush();
  uint64_t count = 0;
  while (!done()) {
    if (!run_one(deadline, count, max_events_)) {
      now_ = std::max(now_, deadline);
      return false;
    }
  }
  return true;
}

}  // namespace turnscout::sim
