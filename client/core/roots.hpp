// The roots of a discovery as the caller wrote them ("192.0.2.1:3478", "[2001:db8::1]",
// "scout.example.org:3478") and their resolution into addresses. The core asks the driver
// for every host name through Prober::poll_resolve(); nothing here does a look-up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/address.hpp"
#include "base/result.hpp"
#include "client/core/options.hpp"
#include "client/core/result.hpp"

namespace turnscout::client {

// `addresses` in RFC 8305's order: the first one's family, then the other, taking turns,
// each family in the order given.
std::vector<Endpoint> interleave_families(std::vector<Endpoint> addresses);

class RootResolution {
 public:
  // Parses every root: a numeric address with or without a port, or a host name with an
  // optional port; a missing port is `default_port`. The error names the first bad root.
  static Result<RootResolution, std::string> parse(const std::vector<std::string>& texts,
                                                   uint16_t default_port);

  // The next host name to look up; each distinct name is asked for once.
  std::optional<std::string> take_request();
  // Fills every root named `host`. No addresses: the name did not resolve, and `failure`
  // says why (it becomes the root's PeerError).
  void on_resolved(std::string_view host, std::span<const Endpoint> addresses,
                   std::string_view failure);
  // Every host name has been answered.
  bool done() const;
  bool has_names() const;

  // The roots in the caller's order; a name with several addresses is several roots, each
  // with the position of the text it came from (what `index:N` refers to).
  std::vector<Root> roots() const;
  // Names that did not resolve, as errors of depth 0.
  const std::vector<PeerError>& errors() const { return errors_; }
  // The roots as given (what `index:N` counts).
  size_t given() const { return entries_.size(); }
  // The first name that did not resolve, for a failure line.
  std::string first_failure() const;

 private:
  struct Entry {
    std::optional<Endpoint> address;  // A numeric root.
    std::string host;                 // A host name, resolved below.
    uint16_t port = 0;
    bool answered = false;
    std::vector<Endpoint> resolved;
  };

  std::vector<Entry> entries_;
  std::vector<std::string> requests_;  // Names not yet handed to the driver.
  std::vector<PeerError> errors_;
};

}  // namespace turnscout::client
