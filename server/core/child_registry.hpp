// The children of a balance server: who they are, whether they are alive, and what they
// report about their subtree. Pure state on an injected clock; the caller has already
// checked a heartbeat's integrity and timestamp window (heartbeat_auth.hpp) when a cluster
// key is set.
//
// Identity: a static child (from the config) is the one whose heartbeats come from its
// configured address; with a key, a dynamic child is known by its name and may move. A
// dynamic heartbeat may not take the name of a static child. Without a key, a child is
// offered only at its heartbeats' source IP address, whatever addresses they name.
//
// Liveness, measured from the last accepted heartbeat (`interval` I, `missed` M): a
// heartbeat counts as missed for suspicion once it is half an interval late, so ordinary
// delay jitter does not flap a child (a suspect child is still listed). Suspect at
// last + 1.5 I; dead at last + M I, so a child that dies is dropped within M I of its
// death, whenever in its heartbeat cycle it died; left on Leave; the next accepted heartbeat makes
// any of them alive again (re-admission). Dead and left children are kept, so they come back with
// their weight; a dynamic one is forgotten after `forget_after`, which bounds memory together with
// `max_dynamic`.
//
// The dynamic table cannot be locked by registrations: when it is full, a new child replaces
// the dynamic child dead or left the longest (only alive and suspect ones are kept), and each
// source IP address registers new children from a bucket of `registrations_per_source`,
// refilled one per interval (the buckets' table is bounded too, without fresh credit:
// admission.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "proto/attributes.hpp"
#include "proto/heartbeat.hpp"
#include "server/core/admission.hpp"
#include "server/core/config.hpp"
#include "server/core/events.hpp"

namespace turnscout::server {

enum class ChildLiveness : uint8_t { kAlive, kSuspect, kDead, kLeft };
const char* to_string(ChildLiveness state);

// For metrics, logs and tests.
struct ChildStatus {
  std::string name;
  Endpoint source;  // Where its heartbeats come from.
  std::vector<Endpoint> advertised;
  // Its own listing, from its last heartbeat (at most proto::kMaxHeartbeatListing): what a
  // client asking for depth 2 is told of its children. Trusted no longer than the child.
  std::vector<proto::ChildEntry> listing;
  ChildLiveness liveness = ChildLiveness::kAlive;
  bool draining = false;
  bool dynamic = false;
  bool heard = false;          // False for a static child that never sent a heartbeat.
  uint16_t load_permille = 0;  // Its own (LOAD); listings use subtree.best_load_permille.
  uint16_t weight = 1;         // What the weighted strategy uses.
  proto::Subtree subtree;
  TimePoint last_heard{};
};

struct RegistryPolicy {
  static constexpr size_t kDefaultMaxDynamic = 4096;

  Duration interval = std::chrono::seconds{1};
  uint32_t missed = 3;
  bool authenticated = false;   // A cluster key is set (and was checked by the caller).
  bool accept_dynamic = false;  // Unknown names are admitted; only when authenticated.
  size_t max_dynamic = kDefaultMaxDynamic;
  uint32_t registrations_per_source = 8;
  // Must exceed the replay window, so a forgotten child's old heartbeats are already stale.
  Duration forget_after = std::chrono::hours{1};
};

enum class Admit : uint8_t {
  kAccepted,
  kUnknown,    // Not a static child's address, and no dynamic child may be admitted.
  kNameTaken,  // A dynamic heartbeat used a static child's name.
  kFull,       // The dynamic table is at max_dynamic, every entry alive or suspect; or the
               // source has used up its registrations.
  kReplayed,   // Authenticated, but the timestamp is not newer than the last accepted one
               // (and it is not a retransmission of that request).
  kWrongName,  // A listed child's address sent another name.
};

class ChildRegistry {
 public:
  // `events` receives one line per state change and must outlive the registry.
  ChildRegistry(RegistryPolicy policy, const std::vector<StaticChildConfig>& children,
                EventLog& events);

  // Static children whose address stays keep their state (name and weight may change);
  // new ones start dead and never heard; removed ones vanish. Dynamic children stay only
  // if the new policy still accepts them. Deadlines follow the new interval.
  void reconfigure(TimePoint now, RegistryPolicy policy,
                   const std::vector<StaticChildConfig>& children);

  Admit on_heartbeat(TimePoint now, const Endpoint& source, const proto::HeartbeatRequest& hb);
  Admit on_leave(TimePoint now, const Endpoint& source, const proto::LeaveRequest& leave);
  // Applies every liveness transition due at `now`.
  void on_timeout(TimePoint now);
  TimePoint next_timeout() const;

  // Changes whenever anything a snapshot or the subtree summary is built from changes.
  uint64_t generation() const { return generation_; }

  template <typename F>  // F(const ChildStatus&), in a stable order.
  void for_each(F&& visit) const {
    for (const auto& [id, child] : children_)
      visit(child.status);
  }
  std::vector<ChildStatus> status() const;
  size_t size() const { return children_.size(); }
  size_t dynamic_count() const { return dynamic_count_; }
  uint64_t rejected_full() const { return rejected_full_; }
  uint64_t replaced_dynamic() const { return replaced_dynamic_; }
  const RegistryPolicy& policy() const { return policy_; }

 private:
  using Id = uint64_t;
  struct Child {
    ChildStatus status;
    uint16_t configured_weight = 1;
    uint16_t requested_weight = 1;               // WEIGHT of the last heartbeat.
    uint64_t last_timestamp_ms = 0;              // Of the last accepted heartbeat or Leave.
    proto::TransactionId last_transaction_id{};  // Of the same request,
    bool last_was_leave = false;                 // and its method.
    TimePoint since{};                           // When the current liveness began.
    TimePoint deadline = kNever;                 // Of the next liveness transition.
  };

  struct Found {
    Id id = 0;
    Child* child = nullptr;  // Null: not accepted, for the reason in `why`.
    Admit why = Admit::kAccepted;
  };
  // The child a heartbeat or Leave is for; creates a dynamic one when `create` allows.
  Found lookup(TimePoint now, const Endpoint& source, const std::string& name, bool create);
  // Room for one more dynamic child: below the bound, or the longest dead or left one is
  // forgotten. False when every dynamic child is alive or suspect.
  bool make_room(TimePoint now);
  std::vector<Endpoint> advertised_by(const Endpoint& source,
                                      const std::vector<Endpoint>& named) const;
  Admit check_replay(Child& child, uint64_t timestamp_ms) const;
  // With a key: the last accepted request again (same transaction id and TIMESTAMP, same
  // source). It is answered again and applied once (PROTOCOL.md §10); it does not refresh
  // liveness, so replaying a dead child's last heartbeat keeps nothing alive.
  static bool is_retransmission(const Child& child, const Endpoint& source, bool leave,
                                const proto::TransactionId& id, uint64_t timestamp_ms);
  Id add_child(Child child);
  void add_static(const StaticChildConfig& config);
  // Adds a static child or updates the one at its address (name, weight).
  void apply_static(const StaticChildConfig& config);
  void erase(Id id);
  void set_deadline(Id id, Child& child, TimePoint deadline);
  TimePoint next_deadline(const Child& child) const;
  void advance(TimePoint now, Id id, Child& child);
  void set_liveness(TimePoint now, Child& child, ChildLiveness next);

  RegistryPolicy policy_;
  Id next_id_ = 0;
  std::map<Id, Child> children_;  // Ordered by id: in order of admission.
  std::unordered_map<Endpoint, Id> static_by_source_;
  std::unordered_map<std::string, Id> by_name_;
  std::set<std::pair<TimePoint, Id>> deadlines_;
  size_t dynamic_count_ = 0;
  uint64_t rejected_full_ = 0;
  uint64_t replaced_dynamic_ = 0;
  AdmissionControl registrations_;  // Per source IP: new dynamic children.
  EventLog& events_;
  bool full_logged_ = false;  // Logged once until a new child fits again.
  uint64_t generation_ = 0;
};

}  // namespace turnscout::server
