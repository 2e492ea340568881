#include "client/core/answer.hpp"

#include <algorithm>
#include <tuple>

#include "proto/turn_uri.hpp"

namespace turnscout::client {
namespace {

bool contains(const std::vector<Service>& list, const Service& service) {
  return std::any_of(list.begin(), list.end(),
                     [&](const Service& s) { return s.uri == service.uri; });
}

}  // namespace

std::vector<Service> services_of(const AcceptedReply& reply, const Endpoint& address) {
  std::vector<Service> out;
  for (const std::string& text : reply.response.services) {
    auto uri = proto::parse_turn_uri(text);
    if (!uri) continue;
    Service service;
    service.uri = text;
    service.scheme = proto::to_string(uri->scheme);
    service.host = std::move(uri->host);
    service.port = uri->port;
    service.transport = proto::to_string(uri->transport);
    service.node_name = reply.response.node_name;
    service.node_address = to_address(address);
    service.node_rtt = reply.rtt;
    service.node_load_permille = reply.response.load.load_permille;
    out.push_back(std::move(service));
  }
  return out;
}

void append_unique(std::vector<Service>& out, const std::vector<Service>& more,
                   const std::vector<Service>& exclude, size_t max) {
  for (const Service& service : more) {
    if (out.size() >= max) return;
    if (!contains(out, service) && !contains(exclude, service)) out.push_back(service);
  }
}

std::vector<Service> rank_backups(const Descent& descent, size_t chosen,
                                  const std::vector<Service>& exclude, size_t max) {
  const std::vector<AcceptedReply>& replies = descent.replies();
  std::vector<size_t> leaves;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (i != chosen && replies[i].response.children.empty()) leaves.push_back(i);
  }
  std::sort(leaves.begin(), leaves.end(), [&](size_t a, size_t b) {
    return std::tie(replies[a].overloaded, replies[a].rtt, a) <
           std::tie(replies[b].overloaded, replies[b].rtt, b);
  });
  std::vector<Service> out;
  for (size_t i : leaves) {
    append_unique(out, services_of(replies[i], descent.address_of(replies[i])), exclude, max);
  }
  const std::vector<size_t> path = descent.path_replies();
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    const AcceptedReply& hop = replies[*it];
    if (hop.response.children.empty() || hop.response.services.empty()) continue;
    append_unique(out, services_of(hop, descent.address_of(hop)), exclude, max);
    break;
  }
  return out;
}

}  // namespace turnscout::client
