#include "tests/client_io/fake_responder.hpp"

#include <span>

#include "base/endpoint.hpp"
#include "common/sockaddr.hpp"
#include "proto/binding.hpp"
#include "proto/message_view.hpp"
#include "proto/probe.hpp"

namespace turnscout::test {

Result<FakeResponder*, std::string> FakeResponder::open(uv_loop_t* loop, const Endpoint& address,
                                                        FakeResponderConfig config) {
  auto* r = new FakeResponder;
  r->config = std::move(config);
  r->handle_.data = r;
  uv_udp_init(loop, &r->handle_);
  sockaddr_storage addr{};
  to_sockaddr(address, addr);
  int rc = uv_udp_bind(&r->handle_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_udp_recv_start(
        &r->handle_,
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* self = static_cast<FakeResponder*>(h->data);
          *buf = uv_buf_init(self->buffer_, sizeof self->buffer_);
        },
        &FakeResponder::on_receive);
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  if (rc == 0) rc = uv_udp_getsockname(&r->handle_, reinterpret_cast<sockaddr*>(&bound), &len);
  if (rc != 0) {
    r->close();
    return unexpected(std::string(uv_strerror(rc)));
  }
  r->address_ = *from_sockaddr(reinterpret_cast<const sockaddr*>(&bound), sizeof bound);
  uv_unref(reinterpret_cast<uv_handle_t*>(&r->handle_));
  return r;
}

void FakeResponder::close() {
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_),
           [](uv_handle_t* h) { delete static_cast<FakeResponder*>(h->data); });
}

void FakeResponder::on_receive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf,
                               const sockaddr* addr, unsigned /*flags*/) {
  if (nread <= 0 || addr == nullptr) return;
  auto from = from_sockaddr(addr, sizeof(sockaddr_storage));
  if (!from) return;
  static_cast<FakeResponder*>(handle->data)
      ->answer(*from, reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
}

void FakeResponder::answer(const Endpoint& from, const uint8_t* data, size_t size) {
  const std::span<const uint8_t> request(data, size);
  auto view = proto::parse_message(request);
  if (!view) return;
  std::vector<uint8_t> out(2048);
  size_t out_size = 0;
  if (view->method() == proto::Method::kBinding) {
    ++bindings;
    if (config.silent || !admit(from, config.flow.binding_cost)) return;
    auto n = proto::encode_binding_response({view->transaction_id(), from, true}, out);
    if (!n) return;
    out_size = *n;
  } else {
    auto probe = proto::decode_probe_request(*view);
    if (!probe) return;
    ++probes;
    if (config.silent || !admit(from, config.flow.probe_cost)) return;
    std::vector<proto::ChildEntry> children;
    for (const Endpoint& child : config.children)
      children.push_back({child, false, 100, 1});
    const proto::ProbeReply reply{probe->transaction_id, from, config.name, {100, 900},
                                  config.flow,           0,    children,    config.services};
    auto n = proto::encode_probe_reply(reply, size, out);
    if (!n) return;
    out_size = n->size;
  }
  sockaddr_storage to{};
  to_sockaddr(from, to);
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(out.data()), static_cast<unsigned>(out_size));
  uv_udp_try_send(&handle_, &buf, 1, reinterpret_cast<const sockaddr*>(&to));
}

// The server side of flow control: a bucket per client address, created full on its first
// request, on the loop's monotonic clock (the client's mirror uses the same one).
bool FakeResponder::admit(const Endpoint& from, uint16_t cost) {
  if (!config.enforce_flow || config.flow.burst_tokens == 0) return true;
  const TimePoint now = steady_now();
  const double refill = config.flow.refill_millitokens_per_s / 1000.0;
  TokenBucket& bucket =
      buckets_.try_emplace(from, config.flow.burst_tokens, refill, now).first->second;
  if (bucket.try_take(now, cost)) return true;
  ++dropped_by_flow;
  return false;
}

}  // namespace turnscout::test
