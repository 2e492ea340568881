// This node's side of the child-to-parent exchange: a Heartbeat to every parent every
// interval, each with a fresh random transaction id, sent from the listen address of the
// parent's family (so the parent sees our listen address as the source); responses are
// matched by transaction id and source, which gives the RTT. A parent is up once it
// answers and silent after `missed` heartbeats in a row went unanswered; each change is
// logged once ("parent X silent", "parent X back"). A heartbeat to a parent that is up and
// still unanswered after a few RTTs (kRetryFloor at least, a third of the interval at
// most) is followed by another, up to kRetries times an interval: one lost datagram (a
// parent flooded beyond what it can read loses some of everything) must not make this node
// suspect there. Retries do not count towards `missed`, which counts intervals. On drain,
// heartbeats stop and a Leave
// goes to every parent, retried until acknowledged or until kLeaveBudget ran out.
//
// Timestamps are the wall clock in ms, made strictly increasing per parent, since a parent
// with a cluster key rejects a timestamp not newer than the last it accepted.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/random.hpp"
#include "base/sans_io.hpp"
#include "proto/heartbeat.hpp"
#include "proto/message_view.hpp"
#include "server/core/events.hpp"

namespace turnscout::server {

// For metrics, logs and tests.
struct ParentStatus {
  Endpoint address;
  bool up = false;          // Answered, and not silent since.
  bool silent = false;      // `missed` heartbeats in a row unanswered.
  Duration last_rtt{};      // Of the last answered heartbeat.
  uint16_t last_error = 0;  // ERROR-CODE of its last error response; 0 after a success.
  uint64_t heartbeats_sent = 0;
  uint64_t heartbeats_answered = 0;
};

struct ParentLinksConfig {
  std::vector<Endpoint> parents;
  std::vector<Endpoint> listen;  // Heartbeats leave from the first one of the parent's family.
  Duration interval = std::chrono::seconds{1};
  uint32_t missed = 3;
  std::string key;         // Cluster key: signs requests, verifies responses. Empty: neither.
  std::string accept_key;  // During a rotation: responses signed with it are accepted too.
};

enum class ResponseMatch : uint8_t {
  kMatched,       // Answered one of our requests.
  kUnmatched,     // Not from a parent, or no request of ours has that transaction id.
  kBadIntegrity,  // With a key: a success response without a valid integrity attribute.
  kMalformed,     // Did not decode.
};

class ParentLinks {
 public:
  static constexpr Duration kLeaveBudget = std::chrono::milliseconds{1500};
  static constexpr Duration kLeaveRetry = std::chrono::milliseconds{300};
  // Heartbeats remembered per parent, so a late answer still counts.
  static constexpr size_t kTracked = 8;
  static constexpr uint32_t kRetries = 2;
  static constexpr Duration kRetryFloor = std::chrono::milliseconds{100};

  // The first heartbeats are due at `now`.
  // `events` receives one line per state change and must outlive the links.
  ParentLinks(ParentLinksConfig config, TimePoint now, EventLog& events);

  // Parents that stay keep their state; new ones get a heartbeat at once (or a Leave, when
  // leaving).
  void reconfigure(TimePoint now, ParentLinksConfig config);

  // Sends what is due: heartbeats built from `content` (everything but the transaction id
  // and the timestamp), or while leaving, Leaves named content.node_name.
  void on_timeout(TimePoint now, WallTime wall, const proto::HeartbeatRequest& content,
                  Random& random, std::vector<Datagram>& out);
  TimePoint next_timeout() const;

  // A Heartbeat or Leave response (success or error) from `source`.
  ResponseMatch on_response(TimePoint now, const Endpoint& source,
                            const proto::MessageView& response);

  // Stops heartbeats; the next on_timeout sends the first Leaves.
  void start_leave(TimePoint now);
  bool leaving() const { return leaving_; }
  // Every parent acknowledged (or rejected) the Leave, or kLeaveBudget ran out.
  bool leave_done() const;

  std::vector<ParentStatus> status() const;

 private:
  enum class State : uint8_t { kUnknown, kUp, kSilent };
  struct Sent {
    proto::TransactionId tid{};
    TimePoint at{};
    uint64_t timestamp_ms = 0;  // A success response echoes it.
    bool pending = false;
  };
  struct Link {
    Endpoint address;
    std::optional<Endpoint> local;  // None: no listen address of its family.
    State state = State::kUnknown;
    TimePoint next_send{};
    TimePoint next_retry = kNever;  // While the last heartbeat of an up parent is unanswered.
    uint32_t retries = 0;           // Sent in this interval.
    std::array<Sent, kTracked> sent{};
    size_t sent_next = 0;
    uint32_t unanswered = 0;
    Duration last_rtt{};
    uint16_t last_error = 0;
    uint64_t heartbeats_sent = 0;
    uint64_t heartbeats_answered = 0;
    uint64_t last_timestamp_ms = 0;
    bool leave_done = false;
    TimePoint leave_next{};
    std::vector<proto::TransactionId> leave_tids;
  };

  Link make_link(const Endpoint& address, TimePoint now) const;
  uint64_t next_timestamp(Link& link, WallTime wall) const;
  void send_heartbeat(TimePoint now, WallTime wall, Link& link,
                      const proto::HeartbeatRequest& content, Random& random,
                      std::vector<Datagram>& out);
  Duration retry_delay(const Link& link) const;
  void send_leave(TimePoint now, WallTime wall, Link& link, const std::string& name, Random& random,
                  std::vector<Datagram>& out);
  void send(const Link& link, size_t size, std::vector<Datagram>& out);
  ResponseMatch on_heartbeat_answer(TimePoint now, Link& link, const proto::MessageView& view);
  ResponseMatch on_leave_answer(Link& link, const proto::MessageView& view);
  void note_error(Link& link, const proto::MessageView& view, const char* what);

  ParentLinksConfig config_;
  std::vector<Link> links_;
  bool leaving_ = false;
  bool leave_expired_ = false;
  TimePoint leave_deadline_ = kNever;
  EventLog& events_;
  bool encode_error_logged_ = false;
  std::vector<uint8_t> buffer_;
};

}  // namespace turnscout::server
