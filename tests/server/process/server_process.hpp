// Real turnscout-server processes on loopback for the process tests: a config written to a
// private folder, the binary started with --ready-file, and the bound addresses read back
// from that file (every port comes from the OS). The process is killed and reaped by PID
// when the object goes away.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/udp_client.hpp"

namespace turnscout::test {

// The cluster key every test node shares, so children are accepted dynamically.
inline constexpr const char* kTestClusterKey = "process-test-cluster-key-0123456789";
// The key capacity tokens are verified with (admission.token_key).
inline constexpr const char* kTestTokenKey = "process-test-token-key-0123456789";

// What the tests vary; node_yaml() turns it into a config file.
struct NodeOptions {
  std::string name{};
  std::string listen = "127.0.0.1:0";
  std::vector<Endpoint> parents{};
  bool leaf = false;  // Gets a TURN service, so parents see a leaf.
  bool metrics = false;
  uint32_t workers = 1;
  Duration interval = std::chrono::milliseconds{100};
  uint32_t missed = 3;
  uint16_t max_children = 8;
  std::string free_tier = "{burst: 1000, refill: 1000}";  // admission.tiers.free.
  std::string extra_tiers{};  // More admission.tiers entries, e.g. "    gold: {id: 1}\n".
  std::string extra_yaml{};   // Appended verbatim (top-level keys).
};

std::string node_yaml(const NodeOptions& options);

// The path of the turnscout-server binary under test.
std::string server_binary();

class ServerProcess {
 public:
  // Writes `yaml` to <dir>/<name>.yaml, starts the server and waits (bounded) until it has
  // written its ready file. The error includes the server's output.
  static Result<std::unique_ptr<ServerProcess>, std::string> start(const TempDir& dir,
                                                                   const std::string& name,
                                                                   const std::string& yaml);
  static Result<std::unique_ptr<ServerProcess>, std::string> start(const TempDir& dir,
                                                                   const NodeOptions& options);

  const Endpoint& udp() const { return udp_.front(); }
  const std::vector<Endpoint>& udp_all() const { return udp_; }
  const std::optional<Endpoint>& metrics() const { return metrics_; }
  // Where it serves TCP and TLS (the ready file's tcp and tls lines).
  const std::vector<Endpoint>& tcp() const { return tcp_; }
  const std::vector<Endpoint>& tls() const { return tls_; }
  ChildProcess& process() { return process_; }
  const std::string& config_path() const { return config_path_; }
  std::string output() const { return process_.output(); }

 private:
  ServerProcess(ChildProcess process, std::string config_path);

  ChildProcess process_;
  std::string config_path_;
  std::vector<Endpoint> udp_;
  std::vector<Endpoint> tcp_;
  std::vector<Endpoint> tls_;
  std::optional<Endpoint> metrics_;
};

// The children `server` lists in its answer to one Probe, or nullopt without an answer.
std::optional<std::vector<Endpoint>> listed_children(UdpClient& client, const Endpoint& server);

// True if `children` holds `address`.
bool lists(const std::optional<std::vector<Endpoint>>& children, const Endpoint& address);

}  // namespace turnscout::test
