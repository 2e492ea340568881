#include "client/io/name_lookup.hpp"

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/sockaddr.hpp"

namespace turnscout::client {

struct NameLookups::Request {
  uv_getaddrinfo_t req{};
  NameLookups* owner = nullptr;  // Null once abandoned.
  LookupId id = 0;
  std::string host;
};

struct NameLookupCallbacks {
  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
    std::unique_ptr<NameLookups::Request> request(static_cast<NameLookups::Request*>(req->data));
    NameLookups* owner = request->owner;
    if (owner == nullptr) {
      uv_freeaddrinfo(res);
      return;
    }
    owner->finished(request.release(), status, res);
  }
};

namespace {

std::vector<Endpoint> addresses_of(const addrinfo* res) {
  std::vector<Endpoint> out;
  for (const addrinfo* ai = res; ai != nullptr && out.size() < NameLookups::kMaxAddresses;
       ai = ai->ai_next) {
    auto ep = from_sockaddr(ai->ai_addr, ai->ai_addrlen);
    if (!ep) continue;
    Endpoint address = unmap_v4(*ep);
    address.port = 0;
    if (std::find(out.begin(), out.end(), address) == out.end()) out.push_back(address);
  }
  return out;
}

}  // namespace

NameLookups::NameLookups(uv_loop_t* loop, Done done) : loop_(loop), done_(std::move(done)) {}

NameLookups::~NameLookups() {
  for (Request* request : running_) {
    request->owner = nullptr;
    // Fails (UV_EBUSY) when the lookup already runs; its callback then only frees it.
    uv_cancel(reinterpret_cast<uv_req_t*>(&request->req));
  }
}

Result<LookupId, std::string> NameLookups::start(const std::string& host) {
  auto request = std::make_unique<Request>();
  request->owner = this;
  request->id = next_id_++;
  request->host = host;
  request->req.data = request.get();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_protocol = IPPROTO_UDP;
  const int rc = uv_getaddrinfo(loop_, &request->req, NameLookupCallbacks::on_resolved,
                                request->host.c_str(), nullptr, &hints);
  if (rc < 0) return unexpected(fmt::format("{}: {}", host, uv_strerror(rc)));
  running_.push_back(request.release());
  return running_.back()->id;
}

void NameLookups::abandon(LookupId id) {
  auto it = std::find_if(running_.begin(), running_.end(),
                         [id](const Request* r) { return r->id == id; });
  if (it == running_.end()) return;
  (*it)->owner = nullptr;
  uv_cancel(reinterpret_cast<uv_req_t*>(&(*it)->req));
  running_.erase(it);
}

void NameLookups::finished(Request* raw, int status, addrinfo* res) {
  std::unique_ptr<Request> request(raw);
  std::erase(running_, raw);
  LookupResult result = std::vector<Endpoint>{};
  if (status < 0) {
    result = unexpected(std::string(uv_strerror(status)));
  } else {
    result = addresses_of(res);
    if (result->empty()) result = unexpected(std::string("no IPv4 or IPv6 address"));
  }
  uv_freeaddrinfo(res);
  const std::string host = std::move(request->host);
  const LookupId id = request->id;
  request.reset();
  done_(id, host, std::move(result));
}

}  // namespace turnscout::client
