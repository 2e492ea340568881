// common/tls on memory alone: a client and a server session hand each other their bytes,
// and the client checks the server's certificate against the name it was given: an IP
// address as one, a host name as one, and no name at all is no session.
#include "common/tls.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/certificate.hpp"
#include "tests/support/temp_dir.hpp"

namespace turnscout {
namespace {

// Moves bytes both ways until the client has the server's reply to `request` (echoed by
// the test as the server's plaintext), or one side fails: what the client received.
Result<std::string, std::string> exchange(const std::shared_ptr<TlsContext>& server_context,
                                          const std::shared_ptr<TlsContext>& client_context,
                                          const std::string& name) {
  TlsSession server(server_context);
  TlsSession client(client_context, name);
  if (auto started = client.start(); !started) return unexpected(started.error());
  const std::string request = "ping";
  if (auto written = client.write({reinterpret_cast<const uint8_t*>(request.data()), 4});
      !written) {
    return unexpected(written.error());
  }
  std::vector<uint8_t> got;
  for (int round = 0; round < 10; ++round) {
    std::vector<uint8_t> at_server;
    if (auto fed = server.feed(client.take_output(), at_server); !fed) {
      return unexpected("server: " + fed.error());
    }
    if (!at_server.empty() && !server.write(at_server)) return unexpected(std::string("echo"));
    if (auto fed = client.feed(server.take_output(), got); !fed) return unexpected(fed.error());
    if (got.size() >= 4) return std::string(got.begin(), got.end());
  }
  return unexpected(std::string("no reply"));
}

}  // namespace

TEST_CASE("tls: the client checks the certificate against the name it dialled") {
  test::TempDir dir("turnscout-tls");
  const auto cert = test::make_certificate(dir.path(), "node", "IP:127.0.0.1,DNS:node.example.org");
  REQUIRE_MESSAGE(cert.ok(), (cert.ok() ? "" : cert.error()));
  const auto server = TlsContext::server(cert->cert_file, cert->key_file);
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error()));
  const auto checking = TlsContext::client(true, cert->cert_file);
  REQUIRE(checking.ok());

  // The names in the certificate: accepted.
  for (const char* name : {"127.0.0.1", "node.example.org"}) {
    const auto reply = exchange(*server, *checking, name);
    CHECK_MESSAGE(reply.ok(), name << ": " << (reply.ok() ? "" : reply.error()));
    if (reply.ok()) CHECK(*reply == "ping");
  }
  // Any other: refused, and the reason says which check failed.
  const auto wrong_ip = exchange(*server, *checking, "127.0.0.2");
  REQUIRE_FALSE(wrong_ip.ok());
  CHECK(wrong_ip.error() == "certificate refused: IP address mismatch");
  const auto wrong_host = exchange(*server, *checking, "other.example.org");
  REQUIRE_FALSE(wrong_host.ok());
  CHECK(wrong_host.error() == "certificate refused: hostname mismatch");
  // No name: no session at all, rather than a check of the chain alone.
  const auto unnamed = exchange(*server, *checking, "");
  REQUIRE_FALSE(unnamed.ok());
  CHECK(unnamed.error() == "no name to check the server's certificate against");

  // A client told to accept anything does, whatever the name.
  const auto accepting = TlsContext::client(false, "");
  REQUIRE(accepting.ok());
  for (const char* name : {"127.0.0.2", ""}) {
    const auto reply = exchange(*server, *accepting, name);
    CHECK_MESSAGE(reply.ok(), name << ": " << (reply.ok() ? "" : reply.error()));
  }
  // The system's CAs do not know this certificate.
  const auto system = TlsContext::client(true, "");
  REQUIRE(system.ok());
  const auto untrusted = exchange(*server, *system, "127.0.0.1");
  REQUIRE_FALSE(untrusted.ok());
  CHECK(untrusted.error().starts_with("certificate refused: "));
}

}  // namespace turnscout
