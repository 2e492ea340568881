// Real turnscout-server processes on loopback for the SDK's process tests: root → region →
// two leaves, heartbeats every 100 ms, 3 missed = dead. Each leaf announces a TURN service
// at its own address (turnscout-server answers STUN Binding), so verification checks the
// very process that was chosen; the service is set by a SIGHUP reload once the leaf's port
// is known.
#pragma once

#include <memory>
#include <string>

#include "base/address.hpp"
#include "tests/server/process/server_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace turnscout::test {

inline constexpr auto kTreeInterval = std::chrono::milliseconds{100};
inline constexpr uint32_t kTreeMissed = 3;

struct Tree {
  TempDir dir{"turnscout-sdk-tree"};
  std::unique_ptr<ServerProcess> root, region, leaf1, leaf2;
  // Top-level YAML every node's config gets (a tls: section), set before start().
  std::string common_yaml;

  // Starts the four servers and waits (bounded) until the tree has converged; REQUIREs it.
  void start();
  std::string root_address() const;
  // "turn:127.0.0.1:PORT?transport=udp" for a leaf.
  static std::string service_of(const ServerProcess& leaf);
};

// The path of a binary under test, from the build (compile definitions).
std::string cli_binary();

}  // namespace turnscout::test
