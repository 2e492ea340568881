// The decisions of the network impairment proxy, with no sockets and no clock: which
// datagrams are dropped or duplicated, when each copy leaves, and which clients have a
// session. The libuv adapter (udp_impair_proxy.hpp) only moves bytes and time in and out.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/random.hpp"
#include "base/result.hpp"

namespace turnscout::impair {

enum class Direction : uint8_t { kToServer = 0, kToClient = 1 };
inline constexpr size_t kDirectionCount = 2;
inline constexpr std::array<Direction, kDirectionCount> kDirections = {Direction::kToServer,
                                                                       Direction::kToClient};

constexpr size_t index_of(Direction d) {
  return static_cast<size_t>(d);
}
// "to-server" or "to-client".
std::string_view to_string(Direction d);

enum class RuleAction : uint8_t { kDrop, kDuplicate };

// How PacketRule::nth numbers datagrams. Both count every datagram received in the rule's
// direction, from 1, whatever became of it.
enum class Ordinal : uint8_t {
  kPerClient,     // The client's Nth datagram (as quicly's udpfw counts); restarts when its
                  // session is closed and opened again.
  kPerDirection,  // The Nth datagram of the direction, all clients together.
};

// A chosen-packet rule. A datagram matches when every condition that is set holds, so a
// rule with none set matches every datagram (a black hole, for drop).
struct PacketRule {
  RuleAction action = RuleAction::kDrop;
  uint64_t nth = 0;  // 0: any ordinal.
  Ordinal ordinal = Ordinal::kPerClient;
  std::vector<uint8_t> prefix;                              // Empty: any bytes.
  std::function<bool(std::span<const uint8_t>)> predicate;  // Empty: any bytes.

  static PacketRule drop_nth(uint64_t n, Ordinal ordinal = Ordinal::kPerClient);
  static PacketRule duplicate_nth(uint64_t n, Ordinal ordinal = Ordinal::kPerClient);
  static PacketRule drop_prefix(std::vector<uint8_t> prefix);
  static PacketRule drop_if(std::function<bool(std::span<const uint8_t>)> predicate);
};

// The impairments of one direction.
//
// Rules are checked first: a datagram a drop rule matches is dropped; one a duplicate rule
// matches leaves twice and skips the loss and duplicate draws (a chosen packet's fate is
// exact). Any other datagram is lost with probability `loss`, and a survivor is duplicated
// with probability `duplicate`. Each copy then leaves at now + delay + J, J drawn uniformly
// from [0, jitter] in whole microseconds, both ends included.
//
// Reordering: with `reorder` (the default, as on the internet) a copy overtakes an earlier
// one whenever its draw is smaller by more than the gap between the two arrivals. With
// `reorder == false` the direction is FIFO: a copy that would overtake leaves together with
// the one ahead of it instead (same instant, still after it).
//
// The queue is bounded: a copy that would take it over `max_queued_packets` or
// `max_queued_bytes` is dropped and counted as overflow.
struct DirectionParams {
  Duration delay{0};
  Duration jitter{0};
  double loss = 0.0;
  double duplicate = 0.0;
  bool reorder = true;
  size_t max_queued_packets = 1024;
  size_t max_queued_bytes = size_t{4} << 20;
  std::vector<PacketRule> rules;
};

struct ImpairConfig {
  std::array<DirectionParams, kDirectionCount> directions{};
  // Sessions: one per client address. A new client beyond `max_clients` closes the least
  // recently active session; a session with no datagram received or sent for
  // `client_idle_timeout` is closed. The timeout must exceed every delay + jitter, so a
  // session is never closed with its own datagrams still queued.
  size_t max_clients = 4096;
  Duration client_idle_timeout = 60s;

  DirectionParams& operator[](Direction d) { return directions[index_of(d)]; }
  const DirectionParams& operator[](Direction d) const { return directions[index_of(d)]; }
};

// An error naming the first field out of range (negative durations, probabilities outside
// [0, 1], zero bounds, an idle timeout not above delay + jitter).
Result<void, std::string> validate(const ImpairConfig& config);

// Per direction. While the core lives:
//   received + duplicated == forwarded + dropped() + queued packets.
struct DirectionCounters {
  uint64_t received = 0;    // Datagrams handed to on_datagram().
  uint64_t forwarded = 0;   // Copies handed out by poll_due().
  uint64_t duplicated = 0;  // Extra copies made (by a rule or by the duplicate draw).
  uint64_t dropped_loss = 0;
  uint64_t dropped_rule = 0;
  uint64_t dropped_overflow = 0;
  uint64_t dropped_stale = 0;  // Its session did not exist, or closed before it left.

  uint64_t dropped() const {
    return dropped_loss + dropped_rule + dropped_overflow + dropped_stale;
  }
  friend bool operator==(const DirectionCounters&, const DirectionCounters&) = default;
};

struct ClientCounters {
  uint64_t opened = 0;
  uint64_t closed_idle = 0;
  uint64_t closed_full = 0;  // Closed to make room for a new client.
  uint64_t forgotten = 0;    // Closed by forget_client().
  friend bool operator==(const ClientCounters&, const ClientCounters&) = default;
};

// A copy whose time has come: the driver sends `bytes` to the server on behalf of `client`
// (kToServer) or to `client` (kToClient).
struct Departure {
  TimePoint due;
  Direction direction = Direction::kToServer;
  Endpoint client;
  std::vector<uint8_t> bytes;
};

// Sessions opened and closed by the core; the driver opens or closes what belongs to them
// (the adapter: one upstream socket per client).
struct ClientEvent {
  enum class Kind : uint8_t { kOpened, kClosed };
  Kind kind = Kind::kOpened;
  Endpoint client;
  friend bool operator==(const ClientEvent&, const ClientEvent&) = default;
};

class ImpairCore {
 public:
  // `config` must pass validate(); `random` must outlive the core. Draws come from
  // `random` only for a nonzero loss, duplicate or jitter, in that order, per datagram.
  ImpairCore(ImpairConfig config, Random& random);

  // A datagram of `client` arrived at `now`, heading `direction`. One to the server opens a
  // session for an unknown client; one to a client without a session is dropped as stale.
  // Returns the number of copies queued (0, 1 or 2). `bytes` is copied.
  int on_datagram(TimePoint now, Direction direction, const Endpoint& client,
                  std::span<const uint8_t> bytes);

  // The earliest time poll_due() has work (a copy due or a session to close), or kNever.
  TimePoint next_timeout() const;

  // Appends every copy due at or before `now` to `out`, earliest first (equal times in
  // arrival order), then closes the sessions idle since `now - client_idle_timeout`.
  void poll_due(TimePoint now, std::vector<Departure>& out);

  // Appends the session events since the last call, in order, and forgets them. Drain it
  // after every on_datagram() and poll_due().
  void poll_client_events(std::vector<ClientEvent>& out);

  // Closes `client`'s session without an event (the driver could not serve it); its queued
  // copies are dropped as stale when due.
  void forget_client(const Endpoint& client);

  bool has_client(const Endpoint& client) const { return clients_.contains(client); }
  size_t client_count() const { return clients_.size(); }

  const DirectionCounters& counters(Direction d) const { return counters_[index_of(d)]; }
  const ClientCounters& client_counters() const { return client_counters_; }
  size_t queued_packets(Direction d) const { return queued_packets_[index_of(d)]; }
  size_t queued_bytes(Direction d) const { return queued_bytes_[index_of(d)]; }
  const ImpairConfig& config() const { return config_; }

 private:
  struct Client {
    uint64_t session = 0;  // Tells a reopened session from the one its queued copies had.
    TimePoint last_active;
    std::array<uint64_t, kDirectionCount> received{};
    std::list<Endpoint>::iterator lru;
  };

  struct Pending {
    TimePoint due;
    uint64_t order = 0;  // Arrival order: breaks ties so equal times leave FIFO.
    uint64_t session = 0;
    Direction direction = Direction::kToServer;
    Endpoint client;
    std::vector<uint8_t> bytes;
  };
  // Heap order: the earliest (due, order) on top.
  static bool later(const Pending& a, const Pending& b);

  Client* open_client(TimePoint now, const Endpoint& endpoint);
  void close_client(std::unordered_map<Endpoint, Client>::iterator it, bool with_event);
  void touch(Client& client, TimePoint now);
  bool rule_matches(const PacketRule& rule, uint64_t per_client, uint64_t per_direction,
                    std::span<const uint8_t> bytes) const;
  // Number of copies the datagram becomes (0, 1 or 2), counting drops and duplicates.
  int fate(Direction direction, uint64_t per_client, std::span<const uint8_t> bytes);
  TimePoint departure_time(TimePoint now, Direction direction);
  bool enqueue(TimePoint now, Direction direction, const Client& client, const Endpoint& endpoint,
               std::span<const uint8_t> bytes);

  ImpairConfig config_;
  Random& random_;

  std::vector<Pending> queue_;  // A binary heap ordered by later().
  uint64_t next_order_ = 0;
  std::array<size_t, kDirectionCount> queued_packets_{};
  std::array<size_t, kDirectionCount> queued_bytes_{};
  // The latest departure scheduled so far per direction, for the FIFO option.
  std::array<TimePoint, kDirectionCount> horizon_{};

  std::unordered_map<Endpoint, Client> clients_;
  std::list<Endpoint> lru_;  // Least recently active first.
  uint64_t next_session_ = 1;
  std::vector<ClientEvent> events_;

  std::array<DirectionCounters, kDirectionCount> counters_{};
  ClientCounters client_counters_;
};

}  // namespace turnscout::impair
