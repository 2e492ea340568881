// What a discovery hands back. Plain values owned by the caller once polled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "proto/turn_uri.hpp"

namespace turnscout::client {

using DiscoveryId = uint64_t;

enum class PeerErrorKind : uint8_t {
  kTimeout,        // Every attempt went unanswered (or the deadline came first).
  kMalformed,      // A reply with our transaction id that does not decode, or is unusable.
  kRateLimited,    // Our mirror of its bucket, or our own limiter, held the request back.
  kErrorResponse,  // It answered with an error code.
  kBlacklisted,    // Its address or name is on the blacklist.
  kUnreachable,    // The driver reported the destination unreachable.
  kEmpty,          // A reply with neither children nor services.
  kSkipped,        // Not probed: dead and backing off, already on the path, or too deep.
};

const char* to_string(PeerErrorKind kind);

struct PeerError {
  Endpoint address;
  std::string name;    // When known (a root's host name, or a NODE-NAME heard before).
  uint32_t depth = 0;  // 0 = roots.
  PeerErrorKind kind = PeerErrorKind::kTimeout;
  uint16_t error_code = 0;  // kErrorResponse only.
  std::string detail;       // One line, e.g. "4 attempts, no reply".
};

// One server on the chosen path, root first.
struct Hop {
  uint32_t depth = 0;
  std::string name;  // Its NODE-NAME.
  Endpoint address;
  Duration rtt{};  // Of the reply that won the level.
  uint16_t load_permille = 0;
  uint16_t overload_limit_permille = 0;  // 0 = none announced.
  uint32_t siblings_probed = 0;          // Servers probed at this level, itself included.
  uint32_t siblings_answered = 0;        // Valid replies at this level, itself included.
};

// A TURN or STUN server a leaf announced.
struct Service {
  std::string text;  // As announced, e.g. "turn:192.0.2.10:3478?transport=udp".
  proto::TurnUri uri;
  std::string node_name;  // The balance server that announced it.
  Endpoint node_address;
  Duration node_rtt{};
  uint16_t node_load_permille = 0;
};

enum class VerifyState : uint8_t { kNotRequested, kVerified, kFailed };

const char* to_string(VerifyState state);

struct VerifyAttempt {
  std::string service;  // Service::text.
  Endpoint address;     // Where the Binding went; invalid when none was sent.
  std::string outcome;  // "answered", "4 attempts, no reply", "tcp transport: not checked", ...
};

struct Verification {
  VerifyState state = VerifyState::kNotRequested;
  std::string service;  // The one that answered (then also services[0]).
  Endpoint address;
  Duration rtt{};
  Endpoint mapped;                   // Our address as the TURN server saw it.
  std::vector<VerifyAttempt> tried;  // In order.
};

struct DiscoveryResult {
  DiscoveryId id = 0;
  bool ok = false;
  std::string failure;  // One line when !ok.
  // The chosen leaf's services in its order. With verification, the one that answered
  // is moved to the front (it may come from a backup).
  std::vector<Service> services;
  // Ranked: the services of other leaves that answered (under the overload limit first,
  // then by RTT), then those of the deepest branch on the path that had any.
  std::vector<Service> backups;
  std::vector<Hop> path;  // Root first, the chosen leaf last.
  Endpoint reflexive;     // Our address as the leaf saw it.
  Duration total_time{};
  bool warm = false;  // Answered by the last good leaf, in one round trip.
  std::vector<PeerError> errors;
  size_t errors_dropped = 0;  // Beyond ProberConfig::max_errors.
  Verification verification;
  uint32_t probes_sent = 0;
};

}  // namespace turnscout::client
