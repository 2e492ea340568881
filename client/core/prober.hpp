// The client's prober as a pure state machine (sans-I/O): it runs discoveries down the
// tree of balance servers and remembers, across them, each server's RTT and health, the
// buckets servers announce, and the last good path. The driver hands it datagrams and the
// time and sends what poll_transmit() returns; results are polled so the driver can invoke
// callbacks outside the core. Options and results are the public types of
// turnscout/types.hpp (DiscoverOptions adds a few tuning fields): one vocabulary from the
// core to the application.
//
// Contract:
// - Not thread-safe; one driver calls it. `random` must outlive the Prober; production
//   passes a SystemRandom (transaction ids must be unguessable), tests a SeededRandom.
// - Host names are never resolved here: the roots of a discovery and the TURN servers it
//   verifies are asked of the driver through poll_resolve() and answered with on_resolved().
//   A discovery whose roots include names starts probing once every name is answered, and
//   its deadline counts from start().
// - Bounded memory: at most ProberConfig::max_discoveries discoveries resolving, running
//   or with results waiting; at most max_peers remembered servers (least recently used forgotten
//   first); each discovery probes at most kMaxPeersPerDescent servers, keeps at most max_errors
//   errors and max_backups backups. Nothing grows with the number of datagrams.
// - Datagrams to send carry an unset `local` (Family::kNone): the driver sends each from
//   its socket of the remote's family, or, with Transport::kTcp, on a TCP connection to the
//   remote (opened if needed) and hands back what it reads with on_stream_message().
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/random.hpp"
#include "base/result.hpp"
#include "base/sans_io.hpp"
#include "client/core/discovery.hpp"
#include "client/core/last_path.hpp"
#include "client/core/options.hpp"
#include "client/core/result.hpp"
#include "client/core/roots.hpp"
#include "client/core/shared.hpp"

namespace turnscout::client {

// Why Prober::start() turned a discovery down before sending anything.
enum class StartErrc : uint8_t {
  kNoRoots,        // DiscoverOptions::roots is empty.
  kBadRoot,        // A root is neither an address nor a host name (or has port 0).
  kBadBlacklist,   // A blacklist token does not parse or names a root that is not there.
  kBadOption,      // Another option is out of range.
  kTooManyAtOnce,  // ProberConfig::max_discoveries are resolving, running or unpolled.
};

const char* to_string(StartErrc code);

struct StartError {
  StartErrc code = StartErrc::kBadOption;
  std::string message;  // One line for people, naming the value that is wrong.
};

// A host name the driver should resolve for a verification in progress; answer with
// Prober::on_resolved (an empty list when it does not resolve).
struct ResolveRequest {
  DiscoveryId id = 0;
  std::string host;
};

// What the prober knows about one server, for tools and tests.
struct PeerInfo {
  HealthState health = HealthState::kHealthy;
  TimePoint retry_at{};  // When a dead server is probed again.
  Duration srtt{};       // Zero before the first sample.
  Duration rto{};        // The first timeout a probe to it would use now.
  std::string name;      // Last NODE-NAME heard.
  bool has_mirror = false;
  double mirror_tokens = 0;  // Tokens left in our mirror of its bucket.
};

class Prober final : public SansIoNode {
 public:
  Prober(ProberConfig config, Random& random, TimePoint now);
  ~Prober() override;
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Starts a discovery: its first probes are queued at once, or, when a root is a host name,
  // its look-ups (poll_resolve). Refused, with nothing sent, for bad options: no roots, a
  // root that does not parse, a bad blacklist token, out-of-range attempts, deadline or
  // padding, a capacity token over 128 bytes, or too many discoveries at once.
  Result<DiscoveryId, StartError> start(TimePoint now, DiscoverOptions options);
  // Stops a discovery; its result (if not yet polled) is dropped and none will come.
  // A background refresh of a delivered discovery stops too. False for an unknown id.
  bool cancel(DiscoveryId id);
  // Ends a discovery now: its result (kCancelled, with the path found so far) is polled
  // like any other. False for an unknown id or one whose result is already out.
  bool stop(TimePoint now, DiscoveryId id);
  // Finished discoveries, oldest first, each exactly once.
  std::optional<Finished> poll_result();
  // Hops won by discoveries started with report_hops, in order, each before its result.
  // At most kMaxHopEvents wait; beyond that the oldest are dropped (a driver polls them
  // with every result).
  std::optional<HopEvent> poll_hop();
  bool has_results() const { return !results_.empty(); }
  bool has_hops() const { return !hops_.empty(); }
  std::optional<ResolveRequest> poll_resolve();
  // The answer to a ResolveRequest. No addresses: the name did not resolve, and `failure`
  // may say why (it is shown in the root's error).
  void on_resolved(TimePoint now, DiscoveryId id, std::string_view host,
                   std::span<const Endpoint> addresses, std::string_view failure = {});
  // The driver learnt that `remote` is unreachable over `via` (ICMP, EHOSTUNREACH, no route
  // for the family; over TCP a refused or failed connection; over TLS that too, or a
  // certificate refused): requests to it fail at once instead of timing out, unless the
  // other transport may still reach it. `why`, when known, goes into the error shown.
  void on_unreachable(TimePoint now, const Endpoint& remote, Transport via = Transport::kUdp,
                      std::string_view why = {});

  // SansIoNode.
  void on_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                   std::span<const uint8_t> bytes) override;
  // A whole message of a TCP or TLS connection to `remote` (the driver frames the stream).
  void on_stream_message(TimePoint now, Transport via, const Endpoint& local,
                         const Endpoint& remote, std::span<const uint8_t> bytes) override;
  void on_timeout(TimePoint now) override;
  TimePoint next_timeout() const override;
  void poll_transmit(std::vector<Datagram>& out) override;

  // Discoveries resolving their roots or running, background refreshes included.
  size_t active() const { return resolving_.size() + discoveries_.size(); }
  std::optional<PeerInfo> peer(const Endpoint& address, TimePoint now) const;
  const std::optional<LastPath>& last_path() const { return last_path_; }
  void forget_last_path() { last_path_.reset(); }
  const ProberCounters& counters() const { return shared_.counters; }
  uint64_t path_switches() const { return path_switches_; }
  const ProberConfig& config() const { return config_; }

 private:
  // A discovery waiting for its root names.
  struct Resolving {
    DiscoveryId id = 0;
    TimePoint started{};
    DiscoverOptions options;
    Blacklist blacklist;
    RootResolution roots;
  };

  void on_message(TimePoint now, Transport via, const Endpoint& remote,
                  std::span<const uint8_t> bytes);
  void launch(TimePoint now, Resolving resolving);
  void fail_early(TimePoint now, const Resolving& resolving, std::string failure);
  void collect();
  void apply(PathUpdate update);
  std::optional<LastPath> usable_last_path(const std::vector<Root>& roots,
                                           const Blacklist& blacklist) const;
  Discovery* find(DiscoveryId id);

  ProberConfig config_;
  Shared shared_;
  std::vector<Resolving> resolving_;
  std::vector<std::unique_ptr<Discovery>> discoveries_;
  std::deque<Finished> results_;
  std::deque<HopEvent> hops_;
  static constexpr size_t kMaxHopEvents = 256;
  std::optional<LastPath> last_path_;
  DiscoveryId next_id_ = 1;
  uint64_t path_switches_ = 0;
};

}  // namespace turnscout::client
