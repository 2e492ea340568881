#include "tests/impair/loop_fixture.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "base/endpoint.hpp"
#include "common/sockaddr.hpp"
#include "tools/impair/udp_impair_proxy.hpp"

namespace turnscout::impair::test {
namespace {

void must(int rc, const char* what) {
  if (rc != 0) {
    std::fprintf(stderr, "test fixture: %s: %s\n", what, uv_strerror(rc));
    std::abort();  // Nothing useful can follow.
  }
}

}  // namespace

LoopSocket::LoopSocket(uv_loop_t* loop, bool echo, const Endpoint& at) : echo_(echo) {
  must(uv_udp_init(loop, &udp_), "uv_udp_init");
  udp_.data = this;
  sockaddr_storage addr{};
  to_sockaddr(at, addr);
  must(uv_udp_bind(&udp_, reinterpret_cast<const sockaddr*>(&addr), 0), "uv_udp_bind");
  sockaddr_storage bound{};
  int len = sizeof(bound);
  must(uv_udp_getsockname(&udp_, reinterpret_cast<sockaddr*>(&bound), &len), "getsockname");
  local_ =
      from_sockaddr(reinterpret_cast<const sockaddr*>(&bound), static_cast<socklen_t>(len)).value();
  must(uv_udp_recv_start(
           &udp_,
           [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
             auto* self = static_cast<LoopSocket*>(handle->data);
             *buf = uv_buf_init(self->buffer_.data(), static_cast<unsigned>(self->buffer_.size()));
           },
           on_receive),
       "uv_udp_recv_start");
}

bool LoopSocket::send(const Endpoint& to, std::span<const uint8_t> bytes) {
  sockaddr_storage addr{};
  to_sockaddr(to, addr);
  uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(bytes.data())),
                             static_cast<unsigned>(bytes.size()));
  return uv_udp_try_send(&udp_, &buf, 1, reinterpret_cast<const sockaddr*>(&addr)) >= 0;
}

std::vector<Endpoint> LoopSocket::senders() const {
  std::vector<Endpoint> out;
  for (const Received& r : received_) {
    if (std::find(out.begin(), out.end(), r.from) == out.end()) out.push_back(r.from);
  }
  return out;
}

void LoopSocket::on_receive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf,
                            const sockaddr* addr, unsigned) {
  if (nread < 0 || addr == nullptr) return;
  const TimePoint at = steady_now();
  auto* self = static_cast<LoopSocket*>(handle->data);
  auto from = from_sockaddr(addr, sizeof(sockaddr_storage));
  if (!from) return;
  const auto* data = reinterpret_cast<const uint8_t*>(buf->base);
  self->received_.push_back({*from, {data, data + nread}, at});
  if (self->echo_) self->send(*from, {data, static_cast<size_t>(nread)});
}

LoopFixture::LoopFixture() {
  must(uv_loop_init(&loop_), "uv_loop_init");
  must(uv_timer_init(&loop_, &tick_), "uv_timer_init");
  must(uv_timer_start(
           &tick_, [](uv_timer_t*) {}, 2, 2),
       "uv_timer_start");
}

LoopFixture::~LoopFixture() {
  if (!finished_) finish();
}

LoopSocket& LoopFixture::open_socket(bool echo, const Endpoint& at) {
  sockets_.push_back(std::make_unique<LoopSocket>(&loop_, echo, at));
  return *sockets_.back();
}

bool LoopFixture::finish() {
  finished_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  for (auto& socket : sockets_)
    uv_close(socket->handle(), nullptr);
  const TimePoint deadline = now() + 2s;
  while (uv_loop_alive(&loop_) != 0 && now() < deadline)
    uv_run(&loop_, UV_RUN_NOWAIT);
  // The sockets stay readable until the fixture goes.
  return uv_loop_close(&loop_) == 0;
}

TimePoint LoopFixture::now() {
  return steady_now();
}

Duration median(std::vector<Duration> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace turnscout::impair::test
