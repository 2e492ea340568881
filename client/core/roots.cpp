#include "client/core/roots.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "base/quote.hpp"

namespace turnscout::client {
namespace {

bool valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '-' || host.front() == '.') {
    return false;
  }
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  });
}

}  // namespace

Result<RootResolution, std::string> RootResolution::parse(const std::vector<std::string>& texts,
                                                          uint16_t default_port) {
  if (texts.empty()) return unexpected(std::string("no roots: give at least one bootstrap server"));
  RootResolution out;
  for (const std::string& text : texts) {
    Entry entry;
    // "::1:3490" is an IPv6 address or ::1 with a port: too easy to misread, so, as in the
    // server's config, an IPv6 address is written in brackets.
    if (!text.empty() && text.front() != '[' && std::count(text.begin(), text.end(), ':') >= 2) {
      return unexpected(fmt::format(
          "root {}: an IPv6 address needs brackets, with or without a port: [IPv6]:PORT or "
          "[IPv6]",
          quoted(text)));
    }
    if (auto address = parse_endpoint(text, default_port)) {
      if (address->port == 0 || is_any(*address)) {
        return unexpected(fmt::format("root {}: needs an address and a port", quoted(text)));
      }
      entry.address = *address;
      entry.answered = true;
      out.entries_.push_back(std::move(entry));
      continue;
    }
    std::string_view host = text;
    uint16_t port = default_port;
    if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
      const std::string_view digits = host.substr(colon + 1);
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
      host =
          digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || port == 0
              ? std::string_view{}
              : host.substr(0, colon);
    }
    if (!valid_host_name(host)) {
      return unexpected(
          fmt::format("root {}: expected IP:PORT, [IPv6]:PORT or HOST[:PORT]", quoted(text)));
    }
    entry.host = std::string(host);
    entry.port = port;
    if (std::none_of(out.requests_.begin(), out.requests_.end(),
                     [&](const std::string& h) { return h == entry.host; })) {
      out.requests_.push_back(entry.host);
    }
    out.entries_.push_back(std::move(entry));
  }
  std::reverse(out.requests_.begin(), out.requests_.end());  // Taken from the back.
  return out;
}

std::optional<std::string> RootResolution::take_request() {
  if (requests_.empty()) return std::nullopt;
  std::string host = std::move(requests_.back());
  requests_.pop_back();
  return host;
}

// RFC 8305 section 4: the resolver's order (RFC 6724's preference), with the families
// taking turns from the first one's, so that one broken family does not stand in front
// of every address of the other.
std::vector<Endpoint> interleave_families(std::vector<Endpoint> addresses) {
  if (addresses.empty()) return addresses;
  const Family first = addresses.front().family;
  std::vector<Endpoint> mine;
  std::vector<Endpoint> other;
  for (const Endpoint& a : addresses)
    (a.family == first ? mine : other).push_back(a);
  std::vector<Endpoint> out;
  out.reserve(addresses.size());
  for (size_t i = 0; i < mine.size() || i < other.size(); ++i) {
    if (i < mine.size()) out.push_back(mine[i]);
    if (i < other.size()) out.push_back(other[i]);
  }
  return out;
}

void RootResolution::on_resolved(std::string_view host, std::span<const Endpoint> addresses,
                                 std::string_view failure) {
  bool reported = false;
  for (Entry& e : entries_) {
    if (e.answered || e.address || e.host != host) continue;
    e.answered = true;
    std::vector<Endpoint> usable;
    for (Endpoint address : addresses) {
      if (!address.valid() || is_any(address)) continue;
      address.port = e.port;
      if (std::find(usable.begin(), usable.end(), address) == usable.end()) {
        usable.push_back(address);
      }
    }
    e.resolved = interleave_families(std::move(usable));
    if (e.resolved.empty() && !reported) {
      PeerError error;
      error.name = e.host;
      error.kind = PeerErrorKind::kUnreachable;
      error.detail = failure.empty() ? std::string("does not resolve")
                                     : fmt::format("does not resolve: {}", failure);
      errors_.push_back(std::move(error));
      reported = true;
    }
  }
}

bool RootResolution::done() const {
  return std::all_of(entries_.begin(), entries_.end(), [](const Entry& e) { return e.answered; });
}

bool RootResolution::has_names() const {
  return std::any_of(entries_.begin(), entries_.end(), [](const Entry& e) { return !e.address; });
}

std::vector<Root> RootResolution::roots() const {
  std::vector<Root> out;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    if (e.address) out.push_back(Root{*e.address, {}, i});
    for (const Endpoint& address : e.resolved)
      out.push_back(Root{address, e.host, i});
  }
  return out;
}

std::string RootResolution::first_failure() const {
  if (errors_.empty()) return "no root resolved";
  return fmt::format("no root resolved: {} {}", errors_.front().name, errors_.front().detail);
}

}  // namespace turnscout::client
