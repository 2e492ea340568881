// A self-signed TLS certificate for tests, made at test time with `openssl req -x509`: an
// EC P-256 key, valid for a day, for the names given (subjectAltName syntax:
// "IP:127.0.0.1,DNS:node.example.org"). Being self-signed, it is its own CA: a client that
// is given it as its CA file accepts it for those names, and no other client does.
#pragma once

#include <string>

#include "base/result.hpp"

namespace turnscout::test {

struct Certificate {
  std::string cert_file;  // PEM.
  std::string key_file;   // PEM, unencrypted.
};

// Writes `<folder>/<stem>.pem` and `<folder>/<stem>-key.pem`; the error has openssl's output.
Result<Certificate, std::string> make_certificate(
    const std::string& folder, const std::string& stem, const std::string& subject_alt_names,
    const std::string& common_name = "turnscout-test");

}  // namespace turnscout::test
