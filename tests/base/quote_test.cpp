#include "base/quote.hpp"

#include <doctest/doctest.h>

#include <string>

namespace turnscout {
namespace {

TEST_CASE("quoted() puts text in double quotes and escapes what could break a line") {
  CHECK(quoted("abc") == R"("abc")");
  CHECK(quoted("") == R"("")");
  CHECK(quoted("a\"b\\c") == R"("a\"b\\c")");
  CHECK(quoted("t\tn\nr\r") == R"("t\tn\nr\r")");
  CHECK(quoted(std::string("nul\0x", 5)) == R"("nul\x00x")");
  CHECK(quoted("bell\x07 del\x7f") == R"("bell\x07 del\x7f")");
}

TEST_CASE("quoted() keeps valid UTF-8 and escapes stray high bytes") {
  CHECK(quoted("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
  CHECK(quoted("\xe2\x82\xac") == "\"\xe2\x82\xac\"");
  CHECK(quoted("bad\xff") == R"("bad\xff")");
  CHECK(quoted("cut\xc3") == R"("cut\xc3")");    // A lead byte with nothing after it.
  CHECK(quoted("\xc3(") == R"("\xc3(")");        // A lead byte without continuation.
  CHECK(quoted("\xc0\xaf") == R"("\xc0\xaf")");  // An overlong encoding.
}

TEST_CASE("quoted() cuts long text and says so") {
  const std::string long_text(kMaxQuoted + 10, 'x');
  CHECK(quoted(long_text) == "\"" + std::string(kMaxQuoted, 'x') + "\"...");
  const std::string exact(kMaxQuoted, 'y');
  CHECK(quoted(exact) == "\"" + exact + "\"");
}

}  // namespace
}  // namespace turnscout
