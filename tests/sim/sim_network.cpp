#include "tests/sim/sim_network.hpp"

#include <algorithm>
#include <utility>

#include "base/endpoint.hpp"

namespace turnscout::sim {

namespace {

constexpr size_t kMaxErrors = 100;

uint64_t directed_key(NodeId from, NodeId to) {
  return (uint64_t{from} << 32) | to;
}

}  // namespace

size_t SimNetwork::AddressPairHash::operator()(const AddressPair& p) const noexcept {
  const uint64_t a = stable_hash(p.from);
  return static_cast<size_t>(a ^ (stable_hash(p.to) + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2)));
}

SimNetwork::SimNetwork(uint64_t seed, TimePoint start) : random_(seed), now_(start) {}

NodeId SimNetwork::add_node(SansIoNode& node, std::vector<Endpoint> addresses) {
  if (addresses.empty()) throw SimError("sim: add_node needs at least one address");
  for (auto it = addresses.begin(); it != addresses.end(); ++it) {
    if (!it->valid()) throw SimError("sim: add_node got an address with no family");
    if (owner_.contains(*it) || std::find(addresses.begin(), it, *it) != it) {
      throw SimError("sim: address " + to_string(*it) + " is owned twice");
    }
  }
  const auto id = static_cast<NodeId>(nodes_.size());
  for (const Endpoint& address : addresses)
    owner_.emplace(address, id);
  nodes_.push_back(NodeState{&node, std::move(addresses), false, std::nullopt});
  collect(id);
  return id;
}

NodeId SimNetwork::node_of(const Endpoint& address) const {
  const auto it = owner_.find(address);
  return it == owner_.end() ? kNoNode : it->second;
}

const std::vector<Endpoint>& SimNetwork::addresses(NodeId node) const {
  return state(node).addresses;
}

SimNetwork::NodeState& SimNetwork::state(NodeId node) {
  if (node >= nodes_.size()) throw SimError("sim: no node " + std::to_string(node));
  return nodes_[node];
}

const SimNetwork::NodeState& SimNetwork::state(NodeId node) const {
  if (node >= nodes_.size()) throw SimError("sim: no node " + std::to_string(node));
  return nodes_[node];
}

void SimNetwork::set_default_link(const LinkParams& params) {
  if (!valid(params)) throw SimError("sim: invalid LinkParams");
  default_params_ = params;
}

void SimNetwork::set_link(NodeId from, NodeId to, const LinkParams& params) {
  if (!valid(params)) throw SimError("sim: invalid LinkParams");
  state(from);
  state(to);
  node_params_[directed_key(from, to)] = params;
}

void SimNetwork::set_link(const Endpoint& from, const Endpoint& to, const LinkParams& params) {
  if (!valid(params)) throw SimError("sim: invalid LinkParams");
  for (const Endpoint* e : {&from, &to}) {
    if (node_of(*e) == kNoNode) throw SimError("sim: set_link on unowned " + to_string(*e));
  }
  address_params_[{from, to}] = params;
}

void SimNetwork::set_path(NodeId a, NodeId b, const LinkParams& params) {
  set_link(a, b, params);
  set_link(b, a, params);
}

void SimNetwork::set_path(const Endpoint& a, const Endpoint& b, const LinkParams& params) {
  set_link(a, b, params);
  set_link(b, a, params);
}

LinkParams SimNetwork::link_params(const Endpoint& from, const Endpoint& to) const {
  return params_for({from, to}, node_of(from), node_of(to));
}

const LinkParams& SimNetwork::params_for(const AddressPair& pair, NodeId from, NodeId to) const {
  if (!address_params_.empty()) {
    const auto it = address_params_.find(pair);
    if (it != address_params_.end()) return it->second;
  }
  if (from != kNoNode && to != kNoNode) {
    const auto it = node_params_.find(directed_key(from, to));
    if (it != node_params_.end()) return it->second;
  }
  return default_params_;
}

void SimNetwork::set_node_down(NodeId node, bool down) {
  NodeState& s = state(node);
  if (s.down == down) return;
  if (down) collect(node);
  s.down = down;
  if (down) {
    disarm_timer(node);
  } else {
    arm_timer(node);
  }
}

bool SimNetwork::node_down(NodeId node) const {
  return state(node).down;
}

void SimNetwork::partition(NodeId a, NodeId b) {
  state(a);
  state(b);
  partitions_.insert(directed_key(std::min(a, b), std::max(a, b)));
}

void SimNetwork::heal(NodeId a, NodeId b) {
  partitions_.erase(directed_key(std::min(a, b), std::max(a, b)));
}

bool SimNetwork::partitioned(NodeId a, NodeId b) const {
  return !partitions_.empty() && partitions_.contains(directed_key(std::min(a, b), std::max(a, b)));
}

void SimNetwork::set_tap(Tap tap) {
  tap_ = std::move(tap);
}

void SimNetwork::kick(NodeId node) {
  state(node);
  collect(node);
}

void SimNetwork::flush() {
  for (NodeId id = 0; id < nodes_.size(); ++id)
    collect(id);
}

TimePoint SimNetwork::next_event_time() const {
  TimePoint next = kNever;
  if (!arrivals_.empty()) next = arrivals_.top().at;
  if (!timers_.empty()) next = std::min(next, timers_.begin()->at);
  return next;
}

LinkCounters SimNetwork::counters(const Endpoint& from, const Endpoint& to) const {
  const auto it = links_.find({from, to});
  return it == links_.end() ? LinkCounters{} : it->second.counters();
}

LinkCounters SimNetwork::counters(NodeId from, NodeId to) const {
  LinkCounters sum;
  for (const auto& [pair, l] : links_) {
    if (node_of(pair.from) == from && node_of(pair.to) == to) sum += l.counters();
  }
  return sum;
}

NetworkCounters SimNetwork::totals() const {
  NetworkCounters out;
  for (const auto& entry : links_)
    out.links += entry.second.counters();
  out.unknown_destination = unknown_destination_;
  out.bad_source = bad_source_;
  out.timeouts = timeouts_;
  out.events = events_;
  return out;
}

void SimNetwork::record_error(std::string message) {
  if (errors_.size() < kMaxErrors) errors_.push_back(std::move(message));
}

}  // namespace turnscout::sim
