// The values a discovery takes and gives back: plain structs of standard types, owned by
// the caller. Addresses are IP text plus port; durations are std::chrono.
//
// Self-contained: includes only the standard library (C++17 or later).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <turnscout/export.h>

namespace turnscout {

// The UDP port of a root given without one ("192.0.2.1", "[2001:db8::1]", "scout.example.org").
inline constexpr uint16_t kDefaultPort = 3478;

// A numeric transport address as the library saw it on the wire.
struct Address {
  std::string ip;  // "192.0.2.1" or "2001:db8::1" (no brackets); empty when unknown.
  uint16_t port = 0;

  bool empty() const { return ip.empty(); }
  // "192.0.2.1:3478", "[2001:db8::1]:3478", or "" when empty.
  std::string to_string() const {
    if (ip.empty()) return {};
    const bool v6 = ip.find(':') != std::string::npos;
    return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
  }
  friend bool operator==(const Address& a, const Address& b) {
    return a.ip == b.ip && a.port == b.port;
  }
  friend bool operator!=(const Address& a, const Address& b) { return !(a == b); }
};

// Which reply wins a level of the tree.
enum class Selection : uint8_t {
  kFirst,      // The first valid reply, whatever its load.
  kLoadAware,  // The first one under the overload limit it announces (the default).
};

// How Probes travel. Over TCP every request costs a connection first (one more round trip);
// a TCP reply may list every child (no padding needed: the connection proves our address).
enum class TransportMode : uint8_t {
  kAuto,  // UDP; when no root has answered after `transport_fallback`, TCP to the same roots
          // as well, and after as long again TLS too (certificates checked as for kTls);
          // the first transport that answers carries the rest of the walk.
  kUdp,   // UDP only.
  kTcp,   // TCP only (a network known to block UDP).
  kTls,   // TLS only, on the servers' TCP ports (or the root's TLS port), each server's
          // certificate checked (tls_ca_file, tls_insecure): a network that lets only TLS out,
          // or a caller who wants the walk private.
};

struct DiscoverOptions {
  // Bootstrap servers, all probed at once: "192.0.2.1:3478", "[2001:db8::1]:3478", or a
  // host name with an optional port ("scout.example.org:3478"); a missing port is
  // kDefaultPort. Host names are resolved (IPv4 and IPv6) within `timeout`; a name with
  // several addresses is several roots.
  std::vector<std::string> roots;
  // Servers to avoid: "index:N" (the N-th entry of `roots`, from 0), "addr:IP:PORT" (any
  // server at any depth, IPv6 in brackets) and "name:NODE" (a root's host name or a
  // server's node name, ASCII case-insensitive).
  std::vector<std::string> blacklist;
  // Everything, name lookups and verification included, ends by then.
  std::chrono::milliseconds timeout{2000};
  Selection selection = Selection::kLoadAware;
  // After the descent, send a STUN Binding to the chosen TURN server (then to the backups
  // in rank order). When none answers, the walk goes on as past a dead server (the other
  // leaves, then other branches), within `timeout`; the discovery fails only when nothing
  // is left, and `verification.tried` lists every attempt. On by default, as in the CLI: a
  // discovery then names a TURN server that answered, at the cost of one more round trip
  // (to it). Off, the result is the leaf's word only. The Binding goes over the URI's
  // transport (UDP, TCP, or TLS for turns: and stuns:; DTLS is not checked); where the walk
  // went over TCP or TLS because UDP got no answer or was not to be used, UDP services are
  // not checked either.
  bool verify = true;
  // A capacity token in its text form (base64url, as `turnscout token issue` prints it);
  // empty = the free tier.
  std::string capacity_token;
  uint16_t children_wanted = 0;  // Children a server should list at most; 0 = as many as fit.
  // Requests per server in one round, the first included; 1..10. When a round ends with
  // no answer at all and at least 0.8 s of `timeout` is left, the walk starts over from the
  // roots (within max_probes), so a longer timeout is used to keep trying.
  uint32_t max_attempts = 5;
  // Re-check the last good leaf first, so a warm discovery costs one round trip. Only a
  // Client remembers anything between discoveries.
  bool use_last_path = true;
  // What servers' answers may make this discovery send, whatever they list (a real tree
  // stays far below): Probe datagrams, retransmissions included, and their bytes; children
  // probed per level (the first ones listed; the rest are reported as skipped).
  uint32_t max_probes = 64;
  uint32_t max_probe_bytes = 80 * 1024;
  uint32_t max_children_per_level = 16;
  // Verification Bindings this discovery may send at most, retransmissions included, over
  // every leaf it checks (a leaf may name dead TURN servers to send the walk on to the next
  // one). Once spent, nothing more is checked and the discovery fails with what it tried.
  uint32_t max_bindings = 32;
  // A survey, like `tailscale netcheck`: each level waits up to this long after its first
  // reply for the other servers it probed, so that `answers` holds the round trip and load
  // of every one that answered in time (every region, then every leaf of the chosen one),
  // and the level is won by the best of them (the lowest RTT; with kLoadAware, under its
  // overload limit first) rather than the first. A level's window opens once: after a dead
  // end below it, the next best wins at once. Each level may cost this much more: keep it
  // well under `timeout` / depth. A warm answer (use_last_path) does not wait. 0 = off.
  std::chrono::milliseconds survey{0};
  // A server may send the client only to unicast addresses (never 0.0.0.0, multicast,
  // broadcast or port 0) no more private than its own: a public server not to private or
  // loopback addresses, a private one not to loopback. This lifts the second rule.
  bool allow_any_scope = false;
  TransportMode transport = TransportMode::kAuto;
  // kAuto: how long UDP has, cold, before TCP races in (RFC 8305's spirit), and TCP before
  // TLS does. With the roots' RTTs known, twice the best of them plus 50 ms, if that is
  // sooner (at least 100 ms).
  std::chrono::milliseconds transport_fallback{250};
  // TLS (TransportMode::kTls, and the check of turns: and stuns: services): a server's
  // certificate must chain to the system's CAs, or to the PEM file named here, and name the
  // server: a root given by host name, that name; any other server (a root given by address,
  // a server a parent lists), its IP address (an IP subjectAltName). `tls_insecure` accepts
  // any certificate (testing only: anyone on the path can then read and change the walk).
  std::string tls_ca_file;
  bool tls_insecure = false;
  // Speculative descent: every Probe asks for depth 2 (DEPTH-WANTED), and a server that
  // knows its children's children lists them too (GRANDCHILD), so the children and the
  // grandchildren are probed in the same round and the first good leaf to answer, from any
  // of them, wins: a 3-level tree costs 2 round trips cold instead of 3. The children of the
  // first child to answer as a branch join the round as it answers (the listing may have
  // left them out), and a leaf wins only once they have had as long as it took: the leaves
  // of the branch a level-by-level walk would take all compete. A branch child still wins
  // if no leaf answers within its own round trip and the grace window, and the walk goes on
  // through it (its children already probed are not probed again). Servers that do not know
  // the attribute answer as before. Each round starts with the children
  // (max_children_per_level of them) and as many grandchildren as make max_speculative in
  // all, those with the lowest listed load (then the highest weight) first.
  bool speculate = true;
  uint32_t max_speculative = 32;
};

// One balance server on the chosen path, root first.
struct Hop {
  uint32_t depth = 0;  // 0 = root.
  std::string name;    // The server's node name.
  Address address;
  std::chrono::microseconds rtt{0};      // Of the reply that won the level.
  uint16_t load_permille = 0;            // 1000 = full.
  uint16_t overload_limit_permille = 0;  // 0 = none announced.
  uint32_t siblings_probed = 0;          // Servers probed at this level, this one included.
  uint32_t siblings_answered = 0;        // Valid replies at this level, this one included.
  // The admission tier this server served the request at, as its reply announced: 0 = free.
  // A capacity_token it did not honour (expired, bound to another address, signed with
  // another key, or for a tier it does not have) shows here as 0.
  uint8_t tier = 0;
  std::string transport = "udp";  // How its reply came: "udp", "tcp" or "tls".
  // Speculative descent: probed in the same round as the next hop, which a parent above had
  // named as its child, and not waited for. Its round trip and load are those of its reply
  // if that came before the answer; else 0, and its name as far as it is known.
  bool speculative = false;
};

// A TURN or STUN server announced by a leaf.
struct Service {
  std::string uri;     // As announced, e.g. "turn:192.0.2.10:3478?transport=udp".
  std::string scheme;  // "turn", "turns", "stun" or "stuns".
  std::string host;    // A host name or an IP address (no brackets).
  uint16_t port = 0;
  std::string transport;  // "udp" or "tcp".
  std::string node_name;  // The leaf that announced it.
  // This network let no UDP through to the tree (the walk went over TCP), and this
  // service is over UDP: it is ranked after the TCP and TLS ones and unlikely to work.
  bool likely_blocked = false;
  Address node_address;
  std::chrono::microseconds node_rtt{0};
  uint16_t node_load_permille = 0;
};

enum class PeerErrorKind : uint8_t {
  kTimeout,        // Every attempt went unanswered (or the timeout came first).
  kMalformed,      // It answered with something unusable.
  kRateLimited,    // Held back to respect the rate it announced, or our own limit.
  kErrorResponse,  // It answered with an error code.
  kBlacklisted,    // Its address or name is on the blacklist.
  kUnreachable,    // No route to it, or (roots) its name did not resolve.
  kEmpty,          // It answered with neither children nor services.
  kSkipped,        // Not probed: known dead and backing off, already on the path, too deep.
  kNotVerified,    // A leaf whose TURN servers all failed verification: the walk went on.
};

struct PeerError {
  Address address;     // Empty for a root name that did not resolve.
  std::string name;    // When known: a root's host name or the server's node name.
  uint32_t depth = 0;  // 0 = roots.
  PeerErrorKind kind = PeerErrorKind::kTimeout;
  uint16_t error_code = 0;  // kErrorResponse only.
  std::string detail;       // One line, e.g. "5 attempts, no reply".
};

enum class VerifyState : uint8_t {
  kNotRequested,
  kVerified,
  kFailed,
  // Asked for, but nothing the leaf named can be checked by a UDP Binding (TCP or TLS
  // only, host names not resolved): the result is the leaf's word, and still ok.
  kUnchecked,
};

struct VerifyAttempt {
  std::string service;  // Service::uri.
  Address address;      // Where the Binding went; empty when none was sent.
  std::string outcome;  // "answered", "3 attempts, no reply", "tcp transport: not checked", ...
};

struct Verification {
  VerifyState state = VerifyState::kNotRequested;
  std::string service;  // The service that answered (then also services[0]).
  Address address;
  std::chrono::microseconds rtt{0};
  Address mapped;                    // Our address as the TURN server saw it.
  std::vector<VerifyAttempt> tried;  // In order.
};

enum class Status : uint8_t {
  kOk,              // A TURN server was found (and verified, when asked).
  kInvalidOptions,  // The options were refused before anything was sent; see `failure`.
  kNotFound,        // The discovery ran and found nothing usable; see `failure` and `errors`.
  kInternalError,   // The library could not run (no event loop, out of sockets, ...).
  kCancelled,       // Stopped by the caller before the end; the result holds what was found.
};

struct DiscoveryResult {
  Status status = Status::kInternalError;
  std::string failure;  // One line when not ok.
  // The chosen leaf's services in its order. With verification the one that answered is
  // first (it may come from a backup).
  std::vector<Service> services;
  // Ranked: the services of other leaves that answered (under their overload limit first,
  // then by RTT), then those of the deepest branch on the path that had any.
  std::vector<Service> backups;
  std::vector<Hop> path;  // Root first, the chosen leaf last.
  // Every server that answered a Probe in this discovery (on the path or not), in the order
  // the replies came; siblings_probed and siblings_answered are 0 here. With `survey`, all
  // the servers of each level on the path that answered within its window.
  std::vector<Hop> answers;
  Address reflexive;  // Our address as the leaf saw it.
  std::chrono::microseconds total_time{0};
  // Answered by the last good leaf after one round trip to it (then one more to the TURN
  // server when verifying), while the refresh walk from the roots went on.
  bool warm = false;
  // Rounds of Probes the answer waited for, one after the other: 1 warm; cold, one per
  // level opened (3 for a 3-level tree walked level by level, 2 with speculative descent,
  // more after a dead end or a retry from the roots). Retransmissions are not counted.
  uint32_t round_trips = 0;
  std::vector<PeerError> errors;
  size_t errors_dropped = 0;  // Errors beyond the ones kept.
  Verification verification;
  // Probe datagrams sent before the result, retransmissions included (Bindings are not
  // Probes). A warm discovery probes the cached leaf and the roots at once, and the refresh
  // walk goes on below the roots meanwhile, so it counts those too: one round trip to the
  // answer, yet several datagrams.
  uint32_t probes_sent = 0;
  uint32_t bindings_sent = 0;  // Verification Bindings, retransmissions included.
  // What carried the walk: "udp", or "tcp" when UDP got no answer from any root in time
  // (TransportMode::kAuto) or was not used (kTcp); "tls" with kTls.
  std::string transport = "udp";
  // The address family of the root the walk went through, "ipv4" or "ipv6" (a root given by
  // a host name with A and AAAA records is probed on both, and either may answer first);
  // empty when no root answered.
  std::string family;

  bool ok() const { return status == Status::kOk; }
};

// Names for logs, command lines and JSON: "first", "load-aware"; "auto", "udp", "tcp";
// "timeout", "malformed",
// "rate-limited", "error-response", "blacklisted", "unreachable", "empty", "skipped";
// "not-requested", "verified", "failed"; "ok", "invalid-options", "not-found",
// "internal-error".
TURNSCOUT_API const char* to_string(Selection selection);
TURNSCOUT_API const char* to_string(TransportMode mode);  // "auto", "udp", "tcp", "tls".
TURNSCOUT_API const char* to_string(PeerErrorKind kind);
TURNSCOUT_API const char* to_string(VerifyState state);
TURNSCOUT_API const char* to_string(Status status);

// One line: "127.0.0.1:3478 leaf-1 (depth 2): timeout: 5 attempts, no reply".
TURNSCOUT_API std::string to_string(const PeerError& error);

// The library's version, e.g. "0.1.0".
TURNSCOUT_API const char* version();

}  // namespace turnscout
