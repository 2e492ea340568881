// TLS over bytes the caller moves: OpenSSL with memory BIOs, so the I/O layer reads and
// writes the socket as it does for TCP and this only turns ciphertext into plaintext and
// back. Nothing here touches a socket or a clock (handshake deadlines are the caller's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace turnscout {

class TlsContext {
 public:
  // A server's certificate chain and private key (PEM files); errors name the file and
  // what OpenSSL said. TLS 1.2 at least.
  static Result<std::shared_ptr<TlsContext>, std::string> server(const std::string& cert_file,
                                                                 const std::string& key_file);
  // A client: verifies the server's certificate against the system's CAs, or `ca_file` when
  // given; `verify` false accepts any certificate (testing, self-signed roots).
  static Result<std::shared_ptr<TlsContext>, std::string> client(bool verify,
                                                                 const std::string& ca_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }
  bool is_server() const { return server_; }

 private:
  TlsContext(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
  SSL_CTX* ctx_;
  bool server_;
};

class TlsSession {
 public:
  // `host`: for a client, the name to send (SNI) and to check the certificate against (an
  // IP address is checked as one); ignored by a server. A client whose context checks
  // certificates needs one: without it (or one OpenSSL refuses) the session fails at
  // start(), saying why.
  explicit TlsSession(std::shared_ptr<TlsContext> context, const std::string& host = "");
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Takes ciphertext read from the peer, advances the handshake and appends any plaintext
  // to `plain`. An error (a refused handshake, a bad record) ends the session; its text
  // says why; the plaintext that came before it is in `plain` all the same. The peer's
  // close_notify is not an error: see peer_closed().
  Result<void, std::string> feed(std::span<const uint8_t> cipher, std::vector<uint8_t>& plain);
  // The peer sent close_notify: it will send nothing more (what it sent before is in
  // `plain`).
  bool peer_closed() const { return peer_closed_; }
  // Sends our close_notify (in take_output()).
  void close();
  // Encrypts `plain` for the peer (once the handshake is done; before, it waits).
  Result<void, std::string> write(std::span<const uint8_t> plain);
  // A client starts the handshake with this (its ClientHello is then in take_output()).
  Result<void, std::string> start();
  // Ciphertext to send to the peer, moved out: handshake records and encrypted data.
  std::vector<uint8_t> take_output();
  bool output_pending() const;
  bool handshake_done() const;

 private:
  Result<void, std::string> advance(std::vector<uint8_t>* plain);
  std::string no_session() const;

  std::shared_ptr<TlsContext> context_;
  SSL* ssl_ = nullptr;
  std::vector<uint8_t> unsent_;  // Plaintext written before the handshake finished.
  std::string error_;            // Why there is no session, when there is none.
  bool peer_closed_ = false;
};

}  // namespace turnscout
