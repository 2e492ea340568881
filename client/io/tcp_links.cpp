#include "client/io/tcp_links.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/sockaddr.hpp"
#include "common/uv_cast.hpp"
#include "proto/constants.hpp"
#include "proto/stream_framing.hpp"

namespace turnscout::client {

struct TcpLinks::Link {
  uv_tcp_t tcp{};
  uv_timer_t quiet{};  // Closes the link after kQuietMs without a byte from the server.
  int open_handles = 2;
  uv_connect_t connect{};
  TcpLinks* owner = nullptr;
  Endpoint remote;
  std::string key;  // Where links_ holds it.
  bool connected = false;
  bool closing = false;
  std::vector<std::vector<uint8_t>> waiting;  // Requests queued before the connection is up.
  uint32_t outstanding = 0;                   // Requests sent without an answer yet.
  std::vector<uint8_t> input;                 // Less than one whole message.
  std::vector<uint8_t> chunk;                 // Where libuv reads into.
  std::unique_ptr<TlsSession> tls;            // TLS links: the session inside the stream.
  std::vector<uint8_t> plain;                 // Decrypted bytes of one read.
};

TcpLinks::TcpLinks(uv_loop_t* loop, OnMessage on_message, OnFailed on_failed, uint64_t quiet_ms)
    : loop_(loop),
      on_message_(std::move(on_message)),
      on_failed_(std::move(on_failed)),
      quiet_ms_(quiet_ms) {}

TcpLinks::~TcpLinks() {
  close_all();
}

void TcpLinks::set_ref(bool ref) {
  ref_ = ref;
  for (auto& [remote, link] : links_) {
    for (uv_handle_t* h : {as_handle(&link->tcp), as_handle(&link->quiet)}) {
      if (ref) {
        uv_ref(h);
      } else {
        uv_unref(h);
      }
    }
  }
}

int TcpLinks::send(const Endpoint& remote, std::span<const uint8_t> bytes,
                   std::shared_ptr<TlsContext> tls, const std::string& tls_name) {
  std::vector<uint8_t> copy(bytes.begin(), bytes.end());
  // A TLS link carries only what asked for the same check of the same certificate: a
  // discovery that accepts any certificate must not lend its connection to one that
  // checks.
  const std::string name = tls ? (tls_name.empty() ? ip_to_string(remote) : tls_name) : "";
  const std::string key =
      tls ? fmt::format("{}|{}|{}", remote, static_cast<const void*>(tls.get()), name)
          : to_string(remote);
  if (auto it = links_.find(key); it != links_.end()) {
    Link& link = *it->second;
    ++link.outstanding;
    if (!link.connected) {
      link.waiting.push_back(std::move(copy));
      return 0;
    }
    return write(link, std::move(copy)) ? 0 : UV_EPIPE;
  }
  if (links_.size() >= kMaxLinks) return UV_ENOBUFS;
  sockaddr_storage addr{};
  if (to_sockaddr(remote, addr) == 0) return UV_EAFNOSUPPORT;
  auto* link = new Link;
  link->owner = this;
  link->remote = remote;
  link->key = key;
  link->tcp.data = link;
  link->connect.data = link;
  link->quiet.data = link;
  uv_tcp_init(loop_, &link->tcp);
  uv_timer_init(loop_, &link->quiet);
  uv_timer_start(&link->quiet, &TcpLinks::on_quiet, quiet_ms_, 0);
  if (!ref_) {
    uv_unref(as_handle(&link->tcp));
    uv_unref(as_handle(&link->quiet));
  }
  if (tls) link->tls = std::make_unique<TlsSession>(std::move(tls), name);
  links_.emplace(key, link);
  link->outstanding = 1;
  link->waiting.push_back(std::move(copy));
  if (const int rc =
          uv_tcp_connect(&link->connect, &link->tcp, reinterpret_cast<const sockaddr*>(&addr),
                         &TcpLinks::on_connect);
      rc != 0) {
    close(*link);
    return rc;
  }
  return 0;
}

void TcpLinks::on_connect(uv_connect_t* req, int status) {
  auto* link = static_cast<Link*>(req->data);
  if (link->closing) return;
  TcpLinks& self = *link->owner;
  if (status < 0) {
    self.fail(*link, uv_strerror(status));  // Refused or unreachable.
    return;
  }
  link->connected = true;
  uv_tcp_nodelay(&link->tcp, 1);
  uv_read_start(as_stream(&link->tcp), &TcpLinks::on_alloc, &TcpLinks::on_read);
  if (link->tls) {
    if (auto started = link->tls->start(); !started) {
      self.fail(*link, started.error());
      return;
    }
  }
  for (std::vector<uint8_t>& bytes : std::exchange(link->waiting, {})) {
    if (!self.write(*link, std::move(bytes))) return;
  }
  if (link->tls) self.flush_tls(*link);  // The ClientHello, with nothing to send yet.
}

void TcpLinks::fail(Link& link, std::string why) {
  const Endpoint remote = link.remote;
  close(link);
  if (on_failed_) on_failed_(remote, why);
}

// Through the TLS session when there is one (requests written before its handshake is done
// go out once it is).
bool TcpLinks::write(Link& link, std::vector<uint8_t> bytes) {
  if (!link.tls) return write_raw(link, std::move(bytes));
  if (auto written = link.tls->write(bytes); !written) {
    close(link);
    return false;
  }
  return flush_tls(link);
}

bool TcpLinks::flush_tls(Link& link) {
  if (!link.tls->output_pending()) return true;
  return write_raw(link, link.tls->take_output());
}

// Written at once with send(MSG_NOSIGNAL), not uv_write: libuv writes with write(), which
// raises SIGPIPE on a connection the server has reset, and a library must not kill the
// program it is linked into (nor change its signal handling). What is written here is a
// request or a TLS handshake flight, a few kilobytes at most, on a connection that carries
// one exchange: a send buffer too full to take it whole means the connection is not
// working, and it is closed (the core retransmits or gives up, as for a lost datagram).
bool TcpLinks::write_raw(Link& link, std::vector<uint8_t> bytes) {
  uv_os_fd_t fd = -1;
  if (uv_fileno(as_handle(&link.tcp), &fd) != 0) {
    close(link);
    return false;
  }
  ssize_t sent = 0;
  do {
    sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (sent < 0 && errno == EINTR);
  if (sent != static_cast<ssize_t>(bytes.size())) {
    close(link);
    return false;
  }
  return true;
}

void TcpLinks::on_alloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  auto* link = static_cast<Link*>(handle->data);
  link->chunk.resize(16384);
  *buf = uv_buf_init(reinterpret_cast<char*>(link->chunk.data()),
                     static_cast<unsigned>(link->chunk.size()));
}

void TcpLinks::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* /*buf*/) {
  auto* link = static_cast<Link*>(stream->data);
  TcpLinks& self = *link->owner;
  if (link->closing || nread == 0) return;
  if (nread < 0) {
    if (link->tls && !link->tls->handshake_done()) {
      // A server that does not speak TLS there closes at its first byte: say so at once.
      self.fail(*link, fmt::format("TLS handshake failed: the server closed the connection ({})",
                                   uv_strerror(static_cast<int>(nread))));
      return;
    }
    self.close(*link);
    return;
  }
  uv_timer_start(&link->quiet, &TcpLinks::on_quiet, self.quiet_ms_, 0);  // The server is there.
  const std::span<const uint8_t> read = std::span(link->chunk).first(static_cast<size_t>(nread));
  std::vector<uint8_t>& in = link->input;
  bool ending = false;  // TLS: the server said close_notify, or sent a bad record.
  if (link->tls) {
    link->plain.clear();
    const bool was_done = link->tls->handshake_done();
    auto fed = link->tls->feed(read, link->plain);
    if (!fed && !was_done && !link->tls->handshake_done()) {
      self.fail(*link, fed.error());  // A refused certificate, or not TLS at all.
      return;
    }
    if (!self.flush_tls(*link)) return;
    in.insert(in.end(), link->plain.begin(), link->plain.end());
    ending = !fed || link->tls->peer_closed();
  } else {
    in.insert(in.end(), read.begin(), read.end());
  }
  size_t used = 0;
  for (;;) {
    const proto::Frame f = proto::next_frame(std::span(in).subspan(used), proto::kMaxMessageSize);
    if (f.status == proto::FrameStatus::kNeedMore) break;
    if (f.status != proto::FrameStatus::kComplete) {
      self.close(*link);  // Not a STUN stream: nothing more can be read from it.
      return;
    }
    const std::vector<uint8_t> message(in.begin() + static_cast<ptrdiff_t>(used),
                                       in.begin() + static_cast<ptrdiff_t>(used + f.size));
    used += f.size;
    if (link->outstanding > 0) --link->outstanding;
    const Endpoint remote = link->remote;
    const std::string key = link->key;
    const bool done = link->outstanding == 0;
    // The core may send more to this server from inside the call (the next level is
    // elsewhere, but a retransmission may come back here): close only if nothing is out.
    self.on_message_(remote, message);
    auto it = self.links_.find(key);
    if (it == self.links_.end() || it->second != link) return;
    if (done && link->outstanding == 0) {
      self.close(*link);
      return;
    }
  }
  if (ending) {
    self.close(*link);  // What it sent before is answered; nothing more will come.
    return;
  }
  in.erase(in.begin(), in.begin() + static_cast<ptrdiff_t>(used));
}

void TcpLinks::close(Link& link) {
  if (link.closing) return;
  link.closing = true;
  if (auto it = links_.find(link.key); it != links_.end() && it->second == &link) {
    links_.erase(it);
  }
  uv_close(as_handle(&link.tcp), &TcpLinks::on_closed);
  uv_close(as_handle(&link.quiet), &TcpLinks::on_closed);
}

void TcpLinks::on_closed(uv_handle_t* handle) {
  auto* link = static_cast<Link*>(handle->data);
  if (--link->open_handles == 0) delete link;
}

void TcpLinks::on_quiet(uv_timer_t* timer) {
  auto* link = static_cast<Link*>(timer->data);
  if (!link->closing) link->owner->close(*link);
}

void TcpLinks::close_all() {
  std::vector<Link*> open;
  for (auto& [remote, link] : links_)
    open.push_back(link);
  for (Link* link : open)
    close(*link);
}

}  // namespace turnscout::client
