#include "server/core/load_parse.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace turnscout::server {
namespace {

// A 2-CPU machine; "cpu" is the sum of the per-CPU lines.
constexpr std::string_view kStatBefore =
    "cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0\n"
    "cpu0 5066076 145348 1542359 23414241 8341 0 12597 0 87814 0\n"
    "cpu1 5066077 145348 1542360 23414242 8342 0 12598 0 87814 0\n"
    "intr 1462898 9 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0\n"
    "ctxt 115315\n"
    "btime 1700000000\n"
    "processes 50010\n"
    "procs_running 2\n"
    "procs_blocked 0\n"
    "softirq 1183394 0 301843 2 162216 62307 0 4 293462 0 363560\n";

// 800 jiffies later: user +120, nice +5, system +45, idle +600, iowait +20, irq +3,
// softirq +7, guest +100 (already inside user, so not counted twice).
constexpr std::string_view kStatAfter =
    "cpu  10132273 290701 3084764 46829083 16703 3 25202 0 175728 0\n"
    "cpu0 5066136 145350 1542381 23414541 8351 1 12600 0 87864 0\n"
    "cpu1 5066137 145351 1542383 23414542 8352 2 12602 0 87864 0\n"
    "intr 1463911 9 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0\n"
    "ctxt 116020\n";

constexpr std::string_view kNetDevBefore =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo: 2776770   11307    0    0    0     0          0         0  2776770   11307    0    0 "
    "   0     0       0          0\n"
    "  eth0: 1215645    2751    0    0    0     0          0         0  1782404    4324    0    0 "
    "   0     0       0          0\n"
    " wlan0:       0       0    0    0    0     0          0         0        0       0    0    0 "
    "   0     0       0          0\n";

// Two seconds later: eth0 received 30 MB and sent 20 MB; lo moved 1 GB, which is ignored.
constexpr std::string_view kNetDevAfter =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo: 1002776770   51307    0    0    0     0          0         0  1002776770   51307    "
    "0    0    0     0       0          0\n"
    "  eth0: 31215645   22751    0    0    0     0          0         0 21782404   19324    0    0 "
    "   0     0       0          0\n"
    " wlan0:       0       0    0    0    0     0          0         0        0       0    0    0 "
    "   0     0       0          0\n";

TEST_CASE("parse_proc_stat reads the aggregate cpu line") {
  auto before = parse_proc_stat(kStatBefore);
  REQUIRE(before.ok());
  CHECK(before->total == 60377929);
  CHECK(before->busy == 13532763);
  auto after = parse_proc_stat(kStatAfter);
  REQUIRE(after.ok());
  CHECK(after->total == 60378729);
  CHECK(after->busy == 13532943);

  auto fraction = cpu_busy_fraction(*before, *after);
  REQUIRE(fraction.ok());
  CHECK(*fraction == doctest::Approx(0.225));  // 180 busy of 800.
  CHECK(fraction_to_permille(*fraction) == 225);
}

TEST_CASE("parse_proc_stat accepts an old kernel's four counters and no trailing newline") {
  auto sample = parse_proc_stat("cpu 100 0 50 850");
  REQUIRE(sample.ok());
  CHECK(*sample == CpuSample{150, 1000});
}

TEST_CASE("parse_proc_stat errors") {
  CHECK(parse_proc_stat("").error() == "no \"cpu\" line");
  CHECK(parse_proc_stat("cpu0 1 2 3 4\nintr 5\n").error() == "no \"cpu\" line");
  CHECK(parse_proc_stat("intr 5\ncpu 1 2 x 4\n").error() ==
        "line 2: expected a counter, got \"x\"");
  CHECK(parse_proc_stat("cpu 1 2 3\n").error() ==
        "line 1: expected at least 4 counters after \"cpu\", got 3");
  CHECK(parse_proc_stat("cpu 1 2 3 -4\n").error() == "line 1: expected a counter, got \"-4\"");
}

TEST_CASE("cpu_busy_fraction refuses samples that cannot be compared") {
  const CpuSample a{100, 1000};
  CHECK(cpu_busy_fraction(a, a).error() == "no CPU time passed between the samples");
  CHECK(cpu_busy_fraction(a, CpuSample{90, 1100}).error() == "CPU counters went backwards");
  CHECK(cpu_busy_fraction(a, CpuSample{200, 900}).error() == "CPU counters went backwards");
  CHECK(*cpu_busy_fraction(a, CpuSample{1100, 2000}) == doctest::Approx(1.0));
  CHECK(*cpu_busy_fraction(a, CpuSample{100, 2000}) == doctest::Approx(0.0));
}

TEST_CASE("parse_proc_net_dev reads rx and tx bytes, loopback left out") {
  auto before = parse_proc_net_dev(kNetDevBefore);
  REQUIRE(before.ok());
  const std::vector<InterfaceBytes> expected{{"eth0", 1215645, 1782404}, {"wlan0", 0, 0}};
  CHECK(*before == expected);

  auto after = parse_proc_net_dev(kNetDevAfter);
  REQUIRE(after.ok());
  CHECK(after->at(0) == InterfaceBytes{"eth0", 31215645, 21782404});

  // 50 MB in 2 s = 200 Mbit/s of 1000.
  auto fraction = net_use_fraction(*before, *after, 2s, 1000);
  REQUIRE(fraction.ok());
  CHECK(*fraction == doctest::Approx(0.2));
  CHECK(fraction_to_permille(*fraction) == 200);
  // The same traffic against a 100 Mbit/s link is twice its capacity.
  CHECK(fraction_to_permille(*net_use_fraction(*before, *after, 2s, 100)) == 2000);
}

TEST_CASE("parse_proc_net_dev accepts a name touching its counters") {
  auto sample = parse_proc_net_dev("eth1:100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0\n");
  REQUIRE(sample.ok());
  CHECK(*sample == std::vector<InterfaceBytes>{{"eth1", 100, 200}});
  CHECK(parse_proc_net_dev("").value().empty());
}

TEST_CASE("parse_proc_net_dev errors") {
  CHECK(parse_proc_net_dev("eth0 100 1 0 0 0 0 0 0 200\n").error() ==
        "line 1: expected \"NAME: counters\", got \"eth0 100 1 0 0 0 0 0 0 200\"");
  CHECK(parse_proc_net_dev("eth0: 100 1 0 0 0 0 0 0\n").error() ==
        "line 1: expected at least 9 counters after \"eth0:\", got 8");
  CHECK(parse_proc_net_dev("x|y\neth0: 100 1 0 0 0 0 0 0 2OO\n").error() ==
        "line 2: expected a counter, got \"2OO\"");
}

TEST_CASE("net_use_fraction: reset counters count as idle, new interfaces wait a sample") {
  const std::vector<InterfaceBytes> before{{"eth0", 5'000'000, 5'000'000}};
  const std::vector<InterfaceBytes> after{{"eth0", 1'000, 6'250'000}, {"eth1", 9'000'000, 0}};
  // Only eth0's tx grew: 1.25 MB in 1 s = 10 Mbit/s of 100.
  CHECK(*net_use_fraction(before, after, 1s, 100) == doctest::Approx(0.1));
  CHECK(net_use_fraction(before, after, 0s, 100).error() == "no time passed between the samples");
  CHECK(net_use_fraction(before, after, 1s, 0).error() == "network capacity is 0");
}

TEST_CASE("fraction_to_permille and host_load_permille") {
  CHECK(fraction_to_permille(0.0) == 0);
  CHECK(fraction_to_permille(0.4994) == 499);
  CHECK(fraction_to_permille(0.4996) == 500);
  CHECK(fraction_to_permille(1.0) == 1000);
  CHECK(fraction_to_permille(-0.5) == 0);
  CHECK(fraction_to_permille(std::numeric_limits<double>::quiet_NaN()) == 0);
  CHECK(fraction_to_permille(11.0) == kMaxLoadPermille);
  CHECK(fraction_to_permille(std::numeric_limits<double>::infinity()) == kMaxLoadPermille);
  CHECK(host_load_permille(0.225, 0.2) == 225);
  CHECK(host_load_permille(0.1, 0.95) == 950);
}

TEST_CASE("parse_load_file accepts fractions and percentages") {
  CHECK(parse_load_file("0.42\n").value() == 420);
  CHECK(parse_load_file("42%").value() == 420);
  CHECK(parse_load_file("  1 \r\n").value() == 1000);
  CHECK(parse_load_file("0").value() == 0);
  CHECK(parse_load_file("1.5").value() == 1500);
  CHECK(parse_load_file("150%").value() == 1500);
  CHECK(parse_load_file(".5").value() == 500);
  CHECK(parse_load_file("0.4204").value() == 420);
  CHECK(parse_load_file("12.34%").value() == 123);
  CHECK(parse_load_file("10").value() == 10000);
  CHECK(parse_load_file("1000%").value() == 10000);
}

TEST_CASE("parse_load_file errors quote the content") {
  const std::string junk = "expected a load like 0.42 or 42%, got ";
  CHECK(parse_load_file("").error() == "empty load file; expected a load like 0.42 or 42%");
  CHECK(parse_load_file(" \n").error() == "empty load file; expected a load like 0.42 or 42%");
  CHECK(parse_load_file("busy\n").error() == junk + "\"busy\"");
  CHECK(parse_load_file("-0.1").error() == junk + "\"-0.1\"");
  CHECK(parse_load_file("1e3").error() == junk + "\"1e3\"");
  CHECK(parse_load_file("inf").error() == junk + "\"inf\"");
  CHECK(parse_load_file("0.4.2").error() == junk + "\"0.4.2\"");
  CHECK(parse_load_file(".").error() == junk + "\".\"");
  CHECK(parse_load_file("%").error() == junk + "\"%\"");
  CHECK(parse_load_file("42 %").error() == junk + "\"42 %\"");
  CHECK(parse_load_file("0.42\n0.5\n").error() == junk + "\"0.42\\n0.5\"");
  CHECK(parse_load_file("10.1").error() ==
        "expected a load from 0 to 10 (or 0% to 1000%), got \"10.1\"");
  CHECK(parse_load_file("1001%").error() ==
        "expected a load from 0 to 10 (or 0% to 1000%), got \"1001%\"");
}

}  // namespace
}  // namespace turnscout::server
