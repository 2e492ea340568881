// The balance server's configuration as plain values. Loaded from YAML by
// server/core/config_yaml.cpp (every error as file:line:col), validated there, and handed
// to the core and the I/O layer. Nothing here reads files or sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"

namespace turnscout::server {

// A parent this node sends heartbeats to.
struct ParentConfig {
  Endpoint address;
};

// A child listed in the config. Without a cluster key its heartbeats are accepted from
// `address`; with one they must be signed, as every other child's.
struct StaticChildConfig {
  std::string name;
  Endpoint address;     // Where its heartbeats come from (its listen address).
  uint16_t weight = 1;  // Used by the weighted strategy unless the child asks for another.
};

enum class LoadSourceKind { kStatic, kHost, kFile };

struct LoadConfig {
  LoadSourceKind source = LoadSourceKind::kStatic;
  uint16_t static_permille = 0;  // source: static.
  // source: file — holds a fraction ("0.42") or a percentage ("42%"); see load_parse.hpp.
  // Resolved against the config file's folder when relative.
  std::string file;
  // source: host — network capacity, both directions together, that rx+tx is measured
  // against.
  uint64_t capacity_mbps = 1000;
  Duration refresh = std::chrono::seconds{1};  // How often host/file loads are re-read.
  uint32_t capacity = 0;                       // Informational capacity sent in heartbeats.
};

enum class Strategy { kAll, kRoundRobin, kWeighted, kLeastLoad, kRandom, kTwoChoice, kIpHash };

struct ListingConfig {
  Strategy strategy = Strategy::kLeastLoad;
  uint16_t max_children = 8;         // At most this many children per reply (0 = all that fit).
  uint16_t overload_permille = 900;  // Children at or over this load are not listed (0 = off;
                                     // the YAML loader requires 1..10000).
  // Speculative descent (PROTOCOL.md, DEPTH-WANTED): send this node's listing to its parents
  // in each heartbeat, and pass each child's listing on to clients that ask for depth 2.
  bool grandchildren = true;
};

// One tier of admission control. Tier 0 is "free", the default for every client.
struct TierConfig {
  std::string name;
  uint8_t id = 0;
  double burst = 20;  // Tokens.
  double refill_per_second = 5;
};

struct AdmissionConfig {
  bool enabled = true;
  std::vector<TierConfig> tiers;  // After loading: tiers[0] is "free" (id 0), ids unique.
  uint16_t probe_cost = 1;
  uint16_t binding_cost = 1;
  uint16_t other_cost = 1;       // Heartbeat/Leave from unknown sources, errors.
  uint32_t max_clients = 65536;  // Bucket table bound (see admission.hpp for eviction).
  uint8_t ipv6_prefix = 64;      // IPv6 clients share a bucket per network of this length.
  // Heartbeat and Leave requests per second (and burst) each worker passes on from sources
  // that are not its children: new dynamic children, and forgeries.
  double unknown_control_rate = 100;
  // Verifies capacity tokens (raw bytes); empty = tokens are ignored and every client is in
  // the free tier. Its own key, not the cluster key: whoever may mint tokens need not be
  // able to join the tree, and the other way round.
  std::string token_key;
  std::string token_key_file;  // Where `token_key` was read from; empty for an inline key.
  // During a rotation: tokens signed with this key are accepted too.
  std::string accept_token_key;
  std::string accept_token_key_file;
};

struct HeartbeatConfig {
  Duration interval = std::chrono::seconds{1};
  uint32_t missed = 3;                                // Intervals without a heartbeat until dead.
  Duration replay_window = std::chrono::seconds{30};  // Accepted |timestamp - now| with a key.
};

struct ClusterConfig {
  std::string key;       // Raw key bytes; empty = heartbeats unauthenticated.
  std::string key_file;  // Where `key` was read from; empty for an inline key.
  // During a rotation: a second key that heartbeats, Leaves and their responses may be
  // signed with. Never used to sign.
  std::string accept_key;
  std::string accept_key_file;
  bool accept_dynamic_children = false;  // Needs a key.
  // Heartbeats without a key on addresses others can reach: accepted only when set.
  bool insecure = false;
  uint32_t max_dynamic_children = 4096;  // Bound of the table of children not listed.
  // New dynamic children one source IP address may register: a burst, then one per
  // heartbeat interval.
  uint32_t registrations_per_source = 8;
};

// Requests over TCP and TLS (server/core/stream_table.hpp). A stream proves the client's
// address, so its replies are not held to the size of the request; everything else is
// bounded here.
struct StreamConfig {
  bool tcp = true;                   // TCP on every listen address, same port.
  std::vector<Endpoint> tls_listen;  // TLS listen addresses; empty = no TLS.
  std::string tls_cert_file;         // PEM chain, resolved against the config file's folder.
  std::string tls_key_file;          // PEM private key.
  uint32_t max_connections = 1024;   // TCP and TLS together.
  uint32_t max_per_source = 16;      // Per client network (IP, or /ipv6_prefix).
  Duration first_request_timeout = std::chrono::seconds{5};  // From accept (or handshake).
  Duration idle_timeout = std::chrono::seconds{30};          // Since the last complete request.
  Duration handshake_timeout = std::chrono::seconds{5};      // TLS.
  uint32_t max_request_size = 2048;  // Bytes of one request, header included.
  uint32_t max_write_queue = 65536;  // Reply bytes waiting for a client that does not read.
};

struct ServerConfig {
  std::string source_file;       // For messages; empty when built in code.
  std::string name;              // NODE-NAME, [A-Za-z0-9._-]{1,64}.
  std::vector<Endpoint> listen;  // One or more; port 0 = any (tests).
  // What parents give to clients: at most 4, no wildcard; non-empty when there are parents.
  // Default: the listen addresses that are not wildcards.
  std::vector<Endpoint> advertise;
  std::vector<ParentConfig> parents;
  std::vector<StaticChildConfig> children;
  ClusterConfig cluster;
  HeartbeatConfig heartbeat;
  LoadConfig load;
  ListingConfig listing;
  AdmissionConfig admission;
  StreamConfig streams;
  std::vector<std::string> services;       // TURN URIs; a node with services is a leaf.
  uint16_t weight = 1;                     // Weight this node asks its parents for.
  std::optional<Endpoint> metrics_listen;  // Prometheus HTTP; none = off.
  std::string log_level = "info";
  bool log_json = false;  // log.format: json (one JSON object per line) instead of text.
  uint32_t workers = 1;   // Threads, each with its own SO_REUSEPORT socket.
};

}  // namespace turnscout::server
