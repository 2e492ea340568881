#include "tools/cluster/metrics_poller.hpp"

#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <iterator>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "base/quote.hpp"
#include "common/format.hpp"
#include "tools/http/http_get.hpp"
#include "tools/http/prometheus.hpp"

namespace turnscout::cluster {
namespace {

constexpr std::pair<std::string_view, server::ChildLiveness> kLiveness[] = {
    {"alive", server::ChildLiveness::kAlive},
    {"suspect", server::ChildLiveness::kSuspect},
    {"dead", server::ChildLiveness::kDead},
    {"left", server::ChildLiveness::kLeft},
};

Result<NodeMetrics, std::string> fetch(const Endpoint& at) {
  auto reply = cli::http_get(to_string(at), "/metrics", MetricsPoller::kRequestTimeout);
  if (!reply) return unexpected(reply.error());
  if (reply->status != 200) return unexpected(fmt::format("HTTP status {}", reply->status));
  return parse_node_metrics(reply->body);
}

}  // namespace

Result<NodeMetrics, std::string> parse_node_metrics(std::string_view text) {
  auto samples = cli::parse_prometheus(text);
  if (!samples) return unexpected(samples.error());
  NodeMetrics out;
  bool leaves_seen = false;
  for (const cli::Sample& s : *samples) {
    if (s.name == "turnscout_subtree_live_leaves") {
      if (s.value < 0 || s.value > UINT32_MAX) {
        return unexpected(fmt::format("turnscout_subtree_live_leaves out of range: {}", s.value));
      }
      out.live_leaves = static_cast<uint32_t>(s.value);
      leaves_seen = true;
    }
    if (s.name != "turnscout_child_state") continue;
    const std::string state = s.label("state");
    const auto* known = std::find_if(std::begin(kLiveness), std::end(kLiveness),
                                     [&](const auto& entry) { return entry.first == state; });
    if (known == std::end(kLiveness) || s.label("child").empty()) {
      return unexpected(fmt::format("turnscout_child_state with child {} and state {}",
                                    quoted(s.label("child")), quoted(state)));
    }
    out.children.emplace_back(s.label("child"), known->second);
  }
  if (!leaves_seen) return unexpected(std::string("no turnscout_subtree_live_leaves"));
  return out;
}

MetricsPoller::MetricsPoller(uv_loop_s* loop) : loop_(loop) {}

MetricsPoller::~MetricsPoller() {
  stop();
}

Result<void, std::string> MetricsPoller::start() {
  if (async_ != nullptr) return unexpected(std::string("start() runs once"));
  async_ = new uv_async_t{};
  if (const int rc = uv_async_init(
          loop_, async_, [](uv_async_t* a) { static_cast<MetricsPoller*>(a->data)->deliver(); });
      rc != 0) {
    delete std::exchange(async_, nullptr);
    return unexpected(fmt::format("uv_async_init: {}", uv_strerror(rc)));
  }
  async_->data = this;
  thread_ = std::thread([this] { run(); });
  return {};
}

bool MetricsPoller::poll(std::vector<Endpoint> endpoints, Done done) {
  if (async_ == nullptr || busy()) return false;
  done_ = std::move(done);
  {
    std::lock_guard lock(mutex_);
    request_ = std::move(endpoints);
  }
  wake_.notify_one();
  return true;
}

void MetricsPoller::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  done_ = nullptr;
  if (uv_async_t* a = std::exchange(async_, nullptr)) {
    uv_close(reinterpret_cast<uv_handle_t*>(a),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
  }
}

void MetricsPoller::run() {
  for (;;) {
    std::vector<Endpoint> endpoints;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || request_.has_value(); });
      if (stopping_) return;
      endpoints = std::move(*request_);
      request_.reset();
    }
    Answers answers;
    for (const Endpoint& at : endpoints) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
      }
      answers.push_back(fetch(at));
    }
    {
      std::lock_guard lock(mutex_);
      answers_ = std::move(answers);
    }
    uv_async_send(async_);
  }
}

void MetricsPoller::deliver() {
  std::optional<Answers> answers;
  {
    std::lock_guard lock(mutex_);
    answers.swap(answers_);
  }
  if (!answers || !done_) return;
  Done done = std::exchange(done_, nullptr);
  done(std::move(*answers));
}

}  // namespace turnscout::cluster
