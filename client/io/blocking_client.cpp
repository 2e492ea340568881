#include "client/io/blocking_client.hpp"

#include <optional>

#include "client/core/result.hpp"

namespace turnscout::client {

std::unique_ptr<BlockingClient> BlockingClient::create(turnscout::ClientConfig config) {
  std::unique_ptr<BlockingClient> out(new BlockingClient);
  if (uv_loop_init(&out->loop_) != 0) return nullptr;
  out->client_ = std::make_unique<turnscout::Client>(&out->loop_, config);
  return out;
}

BlockingClient::~BlockingClient() {
  client_.reset();
  // Close callbacks, and name lookups that could not be cancelled, complete here.
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

turnscout::DiscoveryResult BlockingClient::discover(const turnscout::DiscoverOptions& options) {
  std::optional<turnscout::DiscoveryResult> result;
  const turnscout::DiscoveryId id = client_->discover(
      options, [&result](turnscout::DiscoveryResult r) { result = std::move(r); });
  // The client's handles keep the loop alive exactly while the discovery is pending.
  while (!result && uv_run(&loop_, UV_RUN_DEFAULT) != 0) {
  }
  if (result) return std::move(*result);
  client_->cancel(id);  // The callback refers to this frame.
  return failed_result(turnscout::Status::kInternalError,
                       "the event loop stopped before the result came");
}

}  // namespace turnscout::client
