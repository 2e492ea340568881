// turnscout::Client: the public face of the driver, converting types at the boundary.
#include <turnscout/client.hpp>

#include "client/io/blocking_client.hpp"
#include "client/io/convert.hpp"
#include "client/io/driver.hpp"

namespace turnscout {
namespace {

client::ProberConfig prober_config(const ClientConfig& config) {
  client::ProberConfig out;
  out.max_discoveries = config.max_discoveries;
  out.max_peers = config.max_peers;
  return out;
}

}  // namespace

class Client::Impl {
 public:
  Impl(uv_loop_t* loop, const ClientConfig& config) : driver(loop, prober_config(config)) {}
  client::Driver driver;
};

Client::Client(uv_loop_s* loop, ClientConfig config)
    : impl_(std::make_unique<Impl>(loop, config)) {}

Client::~Client() = default;

DiscoveryId Client::discover(const DiscoverOptions& options, Callback callback) {
  client::Driver::Callback done = [callback = std::move(callback)](
                                      client::DiscoveryResult result,
                                      std::optional<client::StartErrc> refused) {
    if (callback) callback(client::to_public(std::move(result), refused));
  };
  auto request = client::to_request(options);
  if (!request) return impl_->driver.reject(request.error(), std::move(done));
  return impl_->driver.discover(std::move(*request), std::move(done));
}

bool Client::cancel(DiscoveryId id) {
  return impl_->driver.cancel(id);
}

size_t Client::pending() const {
  return impl_->driver.pending();
}

DiscoveryResult discover(const DiscoverOptions& options) {
  auto client = client::BlockingClient::create();
  if (!client) {
    return client::failed_result(Status::kInternalError, "cannot create an event loop");
  }
  return client->discover(options);
}

}  // namespace turnscout
