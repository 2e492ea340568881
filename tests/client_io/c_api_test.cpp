// The C test program (c_api_program.c, compiled as C11) against a real server tree.
#include <doctest/doctest.h>

#include "tests/client_io/tree.hpp"
#include "tests/support/child_process.hpp"

namespace turnscout::test {

TEST_CASE("c api: the C program finds a leaf, warm again, and without blocking; checks pass") {
  Tree t;
  t.start();
  auto r = run_command(TURNSCOUT_C_API_PROGRAM, {t.root_address()}, t.dir.file("c_api.out"),
                       std::chrono::seconds{20});
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
  INFO("output:\n" << r->output);
  CHECK(r->status == ExitStatus{true, 0});
  CHECK(r->output.find("c api: all checks passed") != std::string::npos);
  CHECK(r->output.find("  hop 2 leaf-") != std::string::npos);
  CHECK(r->output.find("  streamed hop 0 root ") != std::string::npos);
  CHECK(r->output.find("async: found") != std::string::npos);
  const bool leaf1 = r->output.find("chosen " + Tree::service_of(*t.leaf1)) != std::string::npos;
  const bool leaf2 = r->output.find("chosen " + Tree::service_of(*t.leaf2)) != std::string::npos;
  CHECK(leaf1 != leaf2);
}

}  // namespace turnscout::test
