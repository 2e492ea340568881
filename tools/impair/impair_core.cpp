#include "tools/impair/impair_core.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "common/format.hpp"

namespace turnscout::impair {
namespace {

bool is_probability(double p) {
  return p >= 0.0 && p <= 1.0;  // False for NaN too.
}

}  // namespace

std::string_view to_string(Direction d) {
  return d == Direction::kToServer ? "to-server" : "to-client";
}

PacketRule PacketRule::drop_nth(uint64_t n, Ordinal ordinal) {
  PacketRule rule;
  rule.nth = n;
  rule.ordinal = ordinal;
  return rule;
}

PacketRule PacketRule::duplicate_nth(uint64_t n, Ordinal ordinal) {
  PacketRule rule = drop_nth(n, ordinal);
  rule.action = RuleAction::kDuplicate;
  return rule;
}

PacketRule PacketRule::drop_prefix(std::vector<uint8_t> prefix) {
  PacketRule rule;
  rule.prefix = std::move(prefix);
  return rule;
}

PacketRule PacketRule::drop_if(std::function<bool(std::span<const uint8_t>)> predicate) {
  PacketRule rule;
  rule.predicate = std::move(predicate);
  return rule;
}

Result<void, std::string> validate(const ImpairConfig& config) {
  for (Direction d : kDirections) {
    const DirectionParams& p = config[d];
    const std::string_view name = to_string(d);
    if (p.delay < Duration::zero() || p.jitter < Duration::zero()) {
      return unexpected(fmt::format("{} delay and jitter must not be negative", name));
    }
    if (!is_probability(p.loss)) {
      return unexpected(fmt::format("{} loss must be in [0, 1], got {}", name, p.loss));
    }
    if (!is_probability(p.duplicate)) {
      return unexpected(fmt::format("{} duplicate must be in [0, 1], got {}", name, p.duplicate));
    }
    if (p.max_queued_packets == 0 || p.max_queued_bytes == 0) {
      return unexpected(fmt::format("{} queue bounds must be positive", name));
    }
    if (config.client_idle_timeout <= p.delay + p.jitter) {
      return unexpected(fmt::format("client idle timeout {} must exceed {} delay + jitter {}",
                                    format_duration(config.client_idle_timeout), name,
                                    format_duration(p.delay + p.jitter)));
    }
  }
  if (config.max_clients == 0) return unexpected(std::string("max clients must be positive"));
  return {};
}

ImpairCore::ImpairCore(ImpairConfig config, Random& random)
    : config_(std::move(config)), random_(random) {
  assert(validate(config_).ok());
}

bool ImpairCore::later(const Pending& a, const Pending& b) {
  if (a.due != b.due) return a.due > b.due;
  return a.order > b.order;
}

int ImpairCore::on_datagram(TimePoint now, Direction direction, const Endpoint& client,
                            std::span<const uint8_t> bytes) {
  DirectionCounters& counters = counters_[index_of(direction)];
  ++counters.received;
  Client* session = nullptr;
  if (auto it = clients_.find(client); it != clients_.end()) {
    session = &it->second;
    touch(*session, now);
  } else if (direction == Direction::kToServer) {
    session = open_client(now, client);
  }
  if (session == nullptr) {
    ++counters.dropped_stale;
    return 0;
  }
  const uint64_t per_client = ++session->received[index_of(direction)];
  const int copies = fate(direction, per_client, bytes);
  int queued = 0;
  for (int i = 0; i < copies; ++i) {
    if (enqueue(now, direction, *session, client, bytes)) ++queued;
  }
  return queued;
}

int ImpairCore::fate(Direction direction, uint64_t per_client, std::span<const uint8_t> bytes) {
  const DirectionParams& params = config_[direction];
  DirectionCounters& counters = counters_[index_of(direction)];
  bool duplicate_rule = false;
  for (const PacketRule& rule : params.rules) {
    if (!rule_matches(rule, per_client, counters.received, bytes)) continue;
    if (rule.action == RuleAction::kDrop) {
      ++counters.dropped_rule;
      return 0;
    }
    duplicate_rule = true;
  }
  int copies = 1;
  if (duplicate_rule) {
    copies = 2;
  } else {
    if (params.loss > 0.0 && random_.unit() < params.loss) {
      ++counters.dropped_loss;
      return 0;
    }
    if (params.duplicate > 0.0 && random_.unit() < params.duplicate) copies = 2;
  }
  if (copies == 2) ++counters.duplicated;
  return copies;
}

bool ImpairCore::rule_matches(const PacketRule& rule, uint64_t per_client, uint64_t per_direction,
                              std::span<const uint8_t> bytes) const {
  if (rule.nth != 0) {
    const uint64_t ordinal = rule.ordinal == Ordinal::kPerClient ? per_client : per_direction;
    if (ordinal != rule.nth) return false;
  }
  if (!rule.prefix.empty()) {
    if (bytes.size() < rule.prefix.size()) return false;
    if (!std::equal(rule.prefix.begin(), rule.prefix.end(), bytes.begin())) return false;
  }
  return !rule.predicate || rule.predicate(bytes);
}

TimePoint ImpairCore::departure_time(TimePoint now, Direction direction) {
  const DirectionParams& params = config_[direction];
  Duration extra{0};
  if (params.jitter > Duration::zero()) {
    const auto span = static_cast<uint64_t>(params.jitter.count()) + 1;
    extra = Duration{static_cast<Duration::rep>(random_.below(span))};
  }
  TimePoint& horizon = horizon_[index_of(direction)];
  TimePoint due = now + params.delay + extra;
  if (!params.reorder) due = std::max(due, horizon);
  horizon = std::max(horizon, due);
  return due;
}

bool ImpairCore::enqueue(TimePoint now, Direction direction, const Client& client,
                         const Endpoint& endpoint, std::span<const uint8_t> bytes) {
  const DirectionParams& params = config_[direction];
  const size_t d = index_of(direction);
  if (queued_packets_[d] + 1 > params.max_queued_packets ||
      queued_bytes_[d] + bytes.size() > params.max_queued_bytes) {
    ++counters_[d].dropped_overflow;
    return false;
  }
  Pending pending;
  pending.due = departure_time(now, direction);
  pending.order = next_order_++;
  pending.session = client.session;
  pending.direction = direction;
  pending.client = endpoint;
  pending.bytes.assign(bytes.begin(), bytes.end());
  queue_.push_back(std::move(pending));
  std::push_heap(queue_.begin(), queue_.end(), later);
  ++queued_packets_[d];
  queued_bytes_[d] += bytes.size();
  return true;
}

TimePoint ImpairCore::next_timeout() const {
  TimePoint next = kNever;
  if (!queue_.empty()) next = queue_.front().due;
  if (!lru_.empty()) {
    const Client& oldest = clients_.at(lru_.front());
    next = std::min(next, oldest.last_active + config_.client_idle_timeout);
  }
  return next;
}

void ImpairCore::poll_due(TimePoint now, std::vector<Departure>& out) {
  while (!queue_.empty() && queue_.front().due <= now) {
    std::pop_heap(queue_.begin(), queue_.end(), later);
    Pending pending = std::move(queue_.back());
    queue_.pop_back();
    const size_t d = index_of(pending.direction);
    --queued_packets_[d];
    queued_bytes_[d] -= pending.bytes.size();

    auto it = clients_.find(pending.client);
    if (it == clients_.end() || it->second.session != pending.session) {
      ++counters_[d].dropped_stale;
      continue;
    }
    // A departure is activity too: it keeps a session with copies in flight open.
    touch(it->second, now);
    ++counters_[d].forwarded;
    out.push_back(
        Departure{pending.due, pending.direction, pending.client, std::move(pending.bytes)});
  }
  while (!lru_.empty()) {
    auto it = clients_.find(lru_.front());
    if (it->second.last_active + config_.client_idle_timeout > now) break;
    ++client_counters_.closed_idle;
    close_client(it, true);
  }
}

void ImpairCore::poll_client_events(std::vector<ClientEvent>& out) {
  out.insert(out.end(), events_.begin(), events_.end());
  events_.clear();
}

void ImpairCore::forget_client(const Endpoint& client) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  ++client_counters_.forgotten;
  close_client(it, false);
}

ImpairCore::Client* ImpairCore::open_client(TimePoint now, const Endpoint& endpoint) {
  if (clients_.size() >= config_.max_clients) {
    ++client_counters_.closed_full;
    close_client(clients_.find(lru_.front()), true);
  }
  ++client_counters_.opened;
  Client& client = clients_[endpoint];
  client.session = next_session_++;
  client.last_active = now;
  client.lru = lru_.insert(lru_.end(), endpoint);
  events_.push_back({ClientEvent::Kind::kOpened, endpoint});
  return &client;
}

void ImpairCore::close_client(std::unordered_map<Endpoint, Client>::iterator it, bool with_event) {
  if (with_event) events_.push_back({ClientEvent::Kind::kClosed, it->first});
  lru_.erase(it->second.lru);
  clients_.erase(it);
}

void ImpairCore::touch(Client& client, TimePoint now) {
  // `now` never goes backwards, so moving to the back keeps lru_ sorted by last_active.
  client.last_active = std::max(client.last_active, now);
  lru_.splice(lru_.end(), lru_, client.lru);
}

}  // namespace turnscout::impair
