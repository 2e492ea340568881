#include "tests/support/certificate.hpp"

#include <chrono>

#include "tests/support/child_process.hpp"

namespace turnscout::test {

Result<Certificate, std::string> make_certificate(const std::string& folder,
                                                  const std::string& stem,
                                                  const std::string& subject_alt_names,
                                                  const std::string& common_name) {
  Certificate out{folder + "/" + stem + ".pem", folder + "/" + stem + "-key.pem"};
  auto openssl = ChildProcess::spawn(
      "/usr/bin/openssl",
      {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days",
       "1", "-subj", "/CN=" + common_name, "-addext", "subjectAltName=" + subject_alt_names,
       "-keyout", out.key_file, "-out", out.cert_file},
      folder + "/" + stem + "-openssl.log");
  if (!openssl) return unexpected(openssl.error());
  const auto status = openssl->wait(std::chrono::seconds{10});
  if (!status || !status->exited || status->code != 0) {
    return unexpected("openssl req failed: " + openssl->output());
  }
  return out;
}

}  // namespace turnscout::test
