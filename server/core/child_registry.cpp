#include "server/core/child_registry.hpp"

#include <algorithm>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "common/format.hpp"

namespace turnscout::server {
namespace {

// Everything a snapshot or the subtree summary reads from a child.
bool same_visible_state(const ChildStatus& a, const ChildStatus& b) {
  return a.liveness == b.liveness && a.draining == b.draining && a.advertised == b.advertised &&
         a.load_permille == b.load_permille && a.weight == b.weight && a.subtree == b.subtree &&
         a.name == b.name && a.listing == b.listing;
}

// Registrations as admission buckets: a burst per source IP, one more per interval; at most
// kRegistrationSources sources tracked.
constexpr uint32_t kRegistrationSources = 1024;
AdmissionConfig registration_limits(const RegistryPolicy& policy) {
  AdmissionConfig c;
  const double per_second =
      1.0 / std::max(std::chrono::duration<double>(policy.interval).count(), 1e-3);
  c.tiers = {TierConfig{"registrations", 0, static_cast<double>(policy.registrations_per_source),
                        per_second}};
  c.max_clients = kRegistrationSources;
  return c;
}

uint16_t effective_weight(uint16_t configured, uint16_t requested) {
  // A child asking for the default weight gets the configured one.
  return requested != 1 ? requested : configured;
}

}  // namespace

// Without a key a heartbeat proves nothing but, at best, its source address: the child is
// offered to clients at that IP address only (any port it names there), never elsewhere.
std::vector<Endpoint> ChildRegistry::advertised_by(const Endpoint& source,
                                                   const std::vector<Endpoint>& named) const {
  if (policy_.authenticated) return named;
  const Endpoint from = unmap_v4(source);
  std::vector<Endpoint> out;
  for (const Endpoint& e : named) {
    const Endpoint plain = unmap_v4(e);
    if (plain.family == from.family && plain.ip == from.ip) out.push_back(e);
  }
  if (out.empty()) out.push_back(from);
  return out;
}

const char* to_string(ChildLiveness state) {
  switch (state) {
    case ChildLiveness::kAlive:
      return "alive";
    case ChildLiveness::kSuspect:
      return "suspect";
    case ChildLiveness::kDead:
      return "dead";
    case ChildLiveness::kLeft:
      return "left";
  }
  return "unknown";
}

ChildRegistry::ChildRegistry(RegistryPolicy policy, const std::vector<StaticChildConfig>& children,
                             EventLog& events)
    : policy_(policy), registrations_(registration_limits(policy)), events_(events) {
  for (const StaticChildConfig& c : children)
    add_static(c);
}

void ChildRegistry::add_static(const StaticChildConfig& config) {
  if (static_by_source_.contains(config.address)) return;
  Child child;
  child.status.name = config.name;
  child.status.source = config.address;
  child.status.liveness = ChildLiveness::kDead;
  child.configured_weight = config.weight;
  child.status.weight = config.weight;
  const Id id = add_child(std::move(child));
  static_by_source_[config.address] = id;
}

ChildRegistry::Id ChildRegistry::add_child(Child child) {
  const Id id = next_id_++;
  by_name_.try_emplace(child.status.name, id);
  if (child.status.dynamic) ++dynamic_count_;
  children_.emplace(id, std::move(child));
  ++generation_;
  return id;
}

void ChildRegistry::erase(Id id) {
  auto it = children_.find(id);
  if (it == children_.end()) return;
  Child& child = it->second;
  if (auto n = by_name_.find(child.status.name); n != by_name_.end() && n->second == id) {
    by_name_.erase(n);
  }
  if (child.status.dynamic) {
    --dynamic_count_;
  } else {
    static_by_source_.erase(child.status.source);
  }
  deadlines_.erase({child.deadline, id});
  children_.erase(it);
  ++generation_;
}

void ChildRegistry::reconfigure(TimePoint now, RegistryPolicy policy,
                                const std::vector<StaticChildConfig>& children) {
  policy_ = policy;
  registrations_.reconfigure(registration_limits(policy_), now);
  std::unordered_set<Endpoint> wanted;
  for (const StaticChildConfig& c : children)
    wanted.insert(c.address);
  const bool dynamic_allowed = policy_.authenticated && policy_.accept_dynamic;
  std::vector<Id> gone;
  for (const auto& [id, child] : children_) {
    if (child.status.dynamic ? !dynamic_allowed : !wanted.contains(child.status.source)) {
      gone.push_back(id);
    }
  }
  for (Id id : gone) {
    events_.info("child {} removed by reload", children_.at(id).status.name);
    erase(id);
  }
  for (const StaticChildConfig& c : children)
    apply_static(c);
  for (auto& [id, child] : children_)
    set_deadline(id, child, next_deadline(child));
  on_timeout(now);
  ++generation_;
}

void ChildRegistry::apply_static(const StaticChildConfig& config) {
  // A dynamic child holding the name gives way to the configured one.
  if (auto n = by_name_.find(config.name);
      n != by_name_.end() && children_.at(n->second).status.dynamic) {
    erase(n->second);
  }
  auto it = static_by_source_.find(config.address);
  if (it == static_by_source_.end()) return add_static(config);
  const Id id = it->second;
  Child& child = children_.at(id);
  if (child.status.name != config.name) {
    if (auto n = by_name_.find(child.status.name); n != by_name_.end() && n->second == id) {
      by_name_.erase(n);
    }
    child.status.name = config.name;
    by_name_.try_emplace(config.name, id);
  }
  child.configured_weight = config.weight;
  child.status.weight = effective_weight(config.weight, child.requested_weight);
}

ChildRegistry::Found ChildRegistry::lookup(TimePoint now, const Endpoint& source,
                                           const std::string& name, bool create) {
  if (auto it = static_by_source_.find(source); it != static_by_source_.end()) {
    Child& child = children_.at(it->second);
    // A listed child is its name at its address: another name from there is a
    // misconfiguration (or a forgery), never a second child.
    if (child.status.name != name) return {.why = Admit::kWrongName};
    return {it->second, &child};
  }
  if (!policy_.authenticated || !policy_.accept_dynamic) return {.why = Admit::kUnknown};
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    Child& child = children_.at(it->second);
    if (!child.status.dynamic) return {.why = Admit::kNameTaken};
    return {it->second, &child};
  }
  if (!create) return {.why = Admit::kUnknown};
  if (!registrations_.admit(now, 0, source, {}, 1).admitted) {
    ++rejected_full_;
    return {.why = Admit::kFull};
  }
  if (!make_room(now)) {
    if (!full_logged_) {
      events_.warn("children table full ({} dynamic, all alive): refusing new children",
                   dynamic_count_);
      full_logged_ = true;
    }
    ++rejected_full_;
    return {.why = Admit::kFull};
  }
  full_logged_ = false;
  Child child;
  child.status.name = name;
  child.status.source = source;
  child.status.dynamic = true;
  child.status.liveness = ChildLiveness::kDead;
  const Id id = add_child(std::move(child));
  return {id, &children_.at(id)};
}

bool ChildRegistry::make_room(TimePoint now) {
  if (dynamic_count_ < policy_.max_dynamic) return true;
  const Child* oldest = nullptr;
  Id oldest_id = 0;
  for (const auto& [id, child] : children_) {
    const bool gone = child.status.liveness == ChildLiveness::kDead ||
                      child.status.liveness == ChildLiveness::kLeft;
    if (child.status.dynamic && gone && (oldest == nullptr || child.since < oldest->since)) {
      oldest = &child;
      oldest_id = id;
    }
  }
  if (oldest == nullptr) return false;
  events_.info("child {} forgotten to make room ({} for {})", oldest->status.name,
               to_string(oldest->status.liveness), format_duration(now - oldest->since));
  ++replaced_dynamic_;
  erase(oldest_id);
  return true;
}

bool ChildRegistry::is_retransmission(const Child& child, const Endpoint& source, bool leave,
                                      const proto::TransactionId& id, uint64_t timestamp_ms) {
  return child.last_timestamp_ms == timestamp_ms && child.last_transaction_id == id &&
         child.last_was_leave == leave && child.status.source == source;
}

Admit ChildRegistry::check_replay(Child& child, uint64_t timestamp_ms) const {
  if (!policy_.authenticated) return Admit::kAccepted;
  if (timestamp_ms <= child.last_timestamp_ms) return Admit::kReplayed;
  return Admit::kAccepted;
}

Admit ChildRegistry::on_heartbeat(TimePoint now, const Endpoint& source,
                                  const proto::HeartbeatRequest& hb) {
  const Found found = lookup(now, source, hb.node_name, /*create=*/true);
  if (found.child == nullptr) return found.why;
  Child& child = *found.child;
  if (policy_.authenticated &&
      is_retransmission(child, source, false, hb.transaction_id, hb.timestamp_ms)) {
    return Admit::kAccepted;
  }
  if (Admit replay = check_replay(child, hb.timestamp_ms); replay != Admit::kAccepted) {
    return replay;
  }
  child.last_timestamp_ms = hb.timestamp_ms;
  child.last_transaction_id = hb.transaction_id;
  child.last_was_leave = false;

  const ChildStatus before = child.status;
  ChildStatus& s = child.status;
  s.source = source;  // Changes only for a dynamic child, whose name is its identity.
  s.advertised = advertised_by(source, hb.advertised);
  s.draining = hb.state == proto::NodeState::kDraining;
  s.load_permille = hb.load.load_permille;
  s.subtree = hb.subtree;
  // Without a key a heartbeat proves at most its source address, as for `advertised`: its
  // listing could name anyone, and clients would be sent there. Only signed ones count.
  s.listing = policy_.authenticated ? hb.listing : std::vector<proto::ChildEntry>{};
  child.requested_weight = hb.weight;
  s.weight = s.dynamic ? hb.weight : effective_weight(child.configured_weight, hb.weight);
  s.last_heard = now;
  s.heard = true;

  if (!before.heard) {
    events_.info("child {} alive (first heartbeat, from {})", s.name, source);
  } else if (before.liveness != ChildLiveness::kAlive) {
    events_.info("child {} alive again (was {})", s.name, to_string(before.liveness));
  }
  if (before.heard && before.draining != s.draining) {
    events_.info("child {} {}", s.name, s.draining ? "draining" : "active again");
  }
  set_liveness(now, child, ChildLiveness::kAlive);
  set_deadline(found.id, child, next_deadline(child));
  if (!before.heard || !same_visible_state(before, s)) ++generation_;
  return Admit::kAccepted;
}

Admit ChildRegistry::on_leave(TimePoint now, const Endpoint& source,
                              const proto::LeaveRequest& leave) {
  const Found found = lookup(now, source, leave.node_name, /*create=*/false);
  if (found.child == nullptr) return found.why;
  Child& child = *found.child;
  if (policy_.authenticated &&
      is_retransmission(child, source, true, leave.transaction_id, leave.timestamp_ms)) {
    return Admit::kAccepted;
  }
  if (Admit replay = check_replay(child, leave.timestamp_ms); replay != Admit::kAccepted) {
    return replay;
  }
  child.last_timestamp_ms = leave.timestamp_ms;
  child.last_transaction_id = leave.transaction_id;
  child.last_was_leave = true;
  if (child.status.liveness != ChildLiveness::kLeft) {
    events_.info("child {} left", child.status.name);
    set_liveness(now, child, ChildLiveness::kLeft);
    set_deadline(found.id, child, next_deadline(child));
    ++generation_;
  }
  return Admit::kAccepted;
}

void ChildRegistry::set_liveness(TimePoint now, Child& child, ChildLiveness next) {
  if (child.status.liveness == next) return;
  child.status.liveness = next;
  child.since = now;
}

TimePoint ChildRegistry::next_deadline(const Child& child) const {
  const Duration interval = policy_.interval;
  const auto missed = static_cast<Duration::rep>(std::max<uint32_t>(policy_.missed, 1));
  const TimePoint last = child.status.last_heard;
  switch (child.status.liveness) {
    case ChildLiveness::kAlive:
      return last + interval + interval / 2;
    case ChildLiveness::kSuspect:
      return last + interval * missed;
    case ChildLiveness::kDead:
    case ChildLiveness::kLeft:
      return child.status.dynamic ? child.since + policy_.forget_after : kNever;
  }
  return kNever;
}

void ChildRegistry::set_deadline(Id id, Child& child, TimePoint deadline) {
  deadlines_.erase({child.deadline, id});
  child.deadline = deadline;
  if (deadline != kNever) deadlines_.emplace(deadline, id);
}

void ChildRegistry::advance(TimePoint now, Id id, Child& child) {
  ChildStatus& s = child.status;
  const Duration silent = now - s.last_heard;
  switch (s.liveness) {
    case ChildLiveness::kAlive:
    case ChildLiveness::kSuspect: {
      const auto missed = static_cast<Duration::rep>(std::max<uint32_t>(policy_.missed, 1));
      const bool dead = now >= s.last_heard + policy_.interval * missed;
      const ChildLiveness next = dead ? ChildLiveness::kDead : ChildLiveness::kSuspect;
      events_.warn("child {} {} (no heartbeat for {})", s.name, to_string(next),
                   format_duration(silent));
      set_liveness(now, child, next);
      set_deadline(id, child, next_deadline(child));
      ++generation_;
      return;
    }
    case ChildLiveness::kDead:
    case ChildLiveness::kLeft:
      events_.info("child {} forgotten ({} for {})", s.name, to_string(s.liveness),
                   format_duration(now - child.since));
      erase(id);
      return;
  }
}

void ChildRegistry::on_timeout(TimePoint now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const Id id = deadlines_.begin()->second;
    advance(now, id, children_.at(id));
  }
}

TimePoint ChildRegistry::next_timeout() const {
  return deadlines_.empty() ? kNever : deadlines_.begin()->first;
}

std::vector<ChildStatus> ChildRegistry::status() const {
  std::vector<ChildStatus> out;
  out.reserve(children_.size());
  for (const auto& [id, child] : children_)
    out.push_back(child.status);
  return out;
}

}  // namespace turnscout::server
