#include "client/cli/result_json.hpp"

namespace turnscout::cli {
namespace {

using Json = nlohmann::ordered_json;

Json address(const Address& a) {
  return a.empty() ? Json(nullptr) : Json(a.to_string());
}

Json service(const Service& s) {
  return Json{{"uri", s.uri},
              {"scheme", s.scheme},
              {"host", s.host},
              {"port", s.port},
              {"transport", s.transport},
              {"likely_blocked", s.likely_blocked},
              {"node", s.node_name},
              {"node_address", address(s.node_address)},
              {"node_rtt_us", s.node_rtt.count()},
              {"node_load_permille", s.node_load_permille}};
}

Json services(const std::vector<Service>& list) {
  Json out = Json::array();
  for (const Service& s : list)
    out.push_back(service(s));
  return out;
}

Json hop(const Hop& h) {
  return Json{{"depth", h.depth},
              {"name", h.name},
              {"address", address(h.address)},
              {"rtt_us", h.rtt.count()},
              {"load_permille", h.load_permille},
              {"overload_limit_permille", h.overload_limit_permille},
              {"tier", h.tier},
              {"transport", h.transport},
              {"siblings_probed", h.siblings_probed},
              {"siblings_answered", h.siblings_answered},
              {"speculative", h.speculative}};
}

Json peer_error(const PeerError& e) {
  Json out{{"address", address(e.address)},
           {"name", e.name},
           {"depth", e.depth},
           {"kind", to_string(e.kind)}};
  if (e.kind == PeerErrorKind::kErrorResponse) out["error_code"] = e.error_code;
  out["detail"] = e.detail;
  return out;
}

Json verification(const Verification& v) {
  Json tried = Json::array();
  for (const VerifyAttempt& a : v.tried) {
    tried.push_back(
        Json{{"service", a.service}, {"address", address(a.address)}, {"outcome", a.outcome}});
  }
  Json out{{"state", to_string(v.state)}};
  if (v.state == VerifyState::kVerified) {
    out["service"] = v.service;
    out["address"] = address(v.address);
    out["rtt_us"] = v.rtt.count();
    out["mapped"] = address(v.mapped);
  }
  out["tried"] = std::move(tried);
  return out;
}

}  // namespace

nlohmann::ordered_json to_json(const DiscoveryResult& r) {
  Json path = Json::array();
  for (const Hop& h : r.path)
    path.push_back(hop(h));
  Json answers = Json::array();
  for (const Hop& h : r.answers)
    answers.push_back(hop(h));
  Json errors = Json::array();
  for (const PeerError& e : r.errors)
    errors.push_back(peer_error(e));
  Json out{{"ok", r.ok()}, {"status", to_string(r.status)}};
  if (!r.ok()) out["failure"] = r.failure;
  out["services"] = services(r.services);
  // Ready for RTCPeerConnection's iceServers (add username and credential for TURN):
  // every URI in rank order, the chosen services first, then the backups.
  Json urls = Json::array();
  if (r.ok()) {
    for (const auto* list : {&r.services, &r.backups})
      for (const Service& s : *list)
        urls.push_back(s.uri);
  }
  out["ice_servers"] = urls.empty() ? Json::array() : Json::array({Json{{"urls", urls}}});
  out["backups"] = services(r.backups);
  out["path"] = std::move(path);
  out["answers"] = std::move(answers);
  out["reflexive"] = address(r.reflexive);
  out["verification"] = verification(r.verification);
  out["warm"] = r.warm;
  out["round_trips"] = r.round_trips;
  out["total_time_us"] = r.total_time.count();
  out["probes_sent"] = r.probes_sent;
  out["bindings_sent"] = r.bindings_sent;
  out["transport"] = r.transport;
  out["family"] = r.family;
  out["errors"] = std::move(errors);
  out["errors_dropped"] = r.errors_dropped;
  return out;
}

}  // namespace turnscout::cli
