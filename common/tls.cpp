#include "common/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <array>
#include <utility>

#include <fmt/format.h>

#include "base/endpoint.hpp"

namespace turnscout {
namespace {

// What OpenSSL queued on this thread, oldest first, and clears it.
std::string openssl_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    std::array<char, 256> text{};
    ERR_error_string_n(e, text.data(), text.size());
    if (!out.empty()) out += "; ";
    out += text.data();
  }
  return out.empty() ? std::string("unknown TLS error") : out;
}

}  // namespace

Result<std::shared_ptr<TlsContext>, std::string> TlsContext::server(const std::string& cert_file,
                                                                    const std::string& key_file) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return unexpected(openssl_errors());
  std::shared_ptr<TlsContext> out(new TlsContext(ctx, true));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return unexpected(fmt::format("cannot use certificate {}: {}", cert_file, openssl_errors()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return unexpected(fmt::format("cannot use private key {}: {}", key_file, openssl_errors()));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return unexpected(fmt::format("private key {} does not match certificate {}: {}", key_file,
                                  cert_file, openssl_errors()));
  }
  return out;
}

Result<std::shared_ptr<TlsContext>, std::string> TlsContext::client(bool verify,
                                                                    const std::string& ca_file) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return unexpected(openssl_errors());
  std::shared_ptr<TlsContext> out(new TlsContext(ctx, false));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (!verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return out;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  const int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                     : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  if (loaded != 1) {
    return unexpected(fmt::format("cannot load CA certificates{}: {}",
                                  ca_file.empty() ? "" : " from " + ca_file, openssl_errors()));
  }
  return out;
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

TlsSession::TlsSession(std::shared_ptr<TlsContext> context, const std::string& host)
    : context_(std::move(context)), ssl_(SSL_new(context_->get())) {
  if (ssl_ == nullptr) return;
  // Memory BIOs: ciphertext in from the socket, ciphertext out to it. SSL owns both.
  SSL_set_bio(ssl_, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
  if (context_->is_server()) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  // A client that checks certificates checks them against a name: without one, or when
  // OpenSSL cannot take it, there is no session (fail closed, not open).
  const bool verifies = (SSL_CTX_get_verify_mode(context_->get()) & SSL_VERIFY_PEER) != 0;
  bool named = false;
  if (host.empty()) {
    error_ = "no name to check the server's certificate against";
  } else if (parse_ip(host)) {
    named = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str()) == 1;
  } else {
    named =
        SSL_set_tlsext_host_name(ssl_, host.c_str()) == 1 && SSL_set1_host(ssl_, host.c_str()) == 1;
  }
  if (!named && error_.empty()) error_ = fmt::format("cannot check a certificate for {}", host);
  if (verifies && !named) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
}

TlsSession::~TlsSession() {
  SSL_free(ssl_);
}

bool TlsSession::handshake_done() const {
  return ssl_ != nullptr && SSL_is_init_finished(ssl_) == 1;
}

Result<void, std::string> TlsSession::start() {
  return advance(nullptr);
}

Result<void, std::string> TlsSession::feed(std::span<const uint8_t> cipher,
                                           std::vector<uint8_t>& plain) {
  if (ssl_ == nullptr) return unexpected(no_session());
  if (!cipher.empty() &&
      BIO_write(SSL_get_rbio(ssl_), cipher.data(), static_cast<int>(cipher.size())) <= 0) {
    return unexpected(openssl_errors());
  }
  return advance(&plain);
}

std::string TlsSession::no_session() const {
  return error_.empty() ? std::string("no TLS session") : error_;
}

Result<void, std::string> TlsSession::advance(std::vector<uint8_t>* plain) {
  if (ssl_ == nullptr) return unexpected(no_session());
  ERR_clear_error();
  if (SSL_is_init_finished(ssl_) != 1) {
    const int rc = SSL_do_handshake(ssl_);
    if (rc != 1) {
      const int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return {};
      // A certificate the client did not check (SSL_VERIFY_NONE) is no reason.
      const long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK && (SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER) != 0) {
        return unexpected(
            fmt::format("certificate refused: {}", X509_verify_cert_error_string(verify)));
      }
      return unexpected(fmt::format("TLS handshake failed: {}", openssl_errors()));
    }
    if (!unsent_.empty()) {
      const std::vector<uint8_t> waiting = std::exchange(unsent_, {});
      if (auto written = write(waiting); !written) return written;
    }
  }
  if (plain == nullptr) return {};
  std::array<uint8_t, 16384> buf{};
  for (;;) {
    const int n = SSL_read(ssl_, buf.data(), static_cast<int>(buf.size()));
    if (n > 0) {
      plain->insert(plain->end(), buf.begin(), buf.begin() + n);
      continue;
    }
    const int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return {};
    if (err == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      return {};
    }
    return unexpected(fmt::format("TLS read failed: {}", openssl_errors()));
  }
}

Result<void, std::string> TlsSession::write(std::span<const uint8_t> plain) {
  if (ssl_ == nullptr) return unexpected(no_session());
  if (!handshake_done()) {
    unsent_.insert(unsent_.end(), plain.begin(), plain.end());
    return {};
  }
  ERR_clear_error();
  if (plain.empty()) return {};
  // Memory BIOs grow as needed, so a write takes everything at once.
  if (SSL_write(ssl_, plain.data(), static_cast<int>(plain.size())) <= 0) {
    return unexpected(fmt::format("TLS write failed: {}", openssl_errors()));
  }
  return {};
}

void TlsSession::close() {
  if (ssl_ != nullptr && handshake_done()) SSL_shutdown(ssl_);
}

bool TlsSession::output_pending() const {
  return ssl_ != nullptr && BIO_ctrl_pending(SSL_get_wbio(ssl_)) > 0;
}

std::vector<uint8_t> TlsSession::take_output() {
  std::vector<uint8_t> out;
  if (ssl_ == nullptr) return out;
  BIO* wbio = SSL_get_wbio(ssl_);
  out.resize(BIO_ctrl_pending(wbio));
  if (out.empty()) return out;
  const int n = BIO_read(wbio, out.data(), static_cast<int>(out.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

}  // namespace turnscout
