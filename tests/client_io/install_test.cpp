// Packaging: `cmake --install` of this build into a temporary prefix, then the example
// consumer (client/examples/consumer) configured with find_package(turnscout) and built
// against it, run against a real server tree; pkg-config finds the package too, and the C
// test program builds from its flags alone.
#include <doctest/doctest.h>

#include <signal.h>

#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/client_io/tree.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

namespace turnscout::test {
namespace {

constexpr auto kBuildLimit = std::chrono::seconds{240};

CommandResult run(const TempDir& dir, const std::string& program,
                  const std::vector<std::string>& args, Duration limit = kBuildLimit) {
  auto r = run_command(program, args, dir.file("install.out"), limit);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
  INFO(program << " output:\n" << r->output);
  REQUIRE_FALSE(r->timed_out);
  REQUIRE(r->status == ExitStatus{true, 0});
  return *r;
}

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

// Empty unless this is a sanitizer build, whose library needs the sanitizer runtimes.
std::vector<std::string> c_sanitizer_flags() {
  return words(TURNSCOUT_C_SANITIZE_FLAGS);
}

}  // namespace

TEST_CASE("install: the package installs, a CMake consumer and a pkg-config build run") {
  TempDir work{"turnscout-sdk-install"};
  const std::string prefix = work.file("prefix");
  const std::string libdir = prefix + "/" + TURNSCOUT_INSTALL_LIBDIR;
  run(work, TURNSCOUT_CMAKE,
      {"--install", TURNSCOUT_BUILD_DIR, "--prefix", prefix, "--component", "sdk"});
  for (const char* file : {"include/turnscout/client.hpp", "include/turnscout/types.hpp",
                           "include/turnscout/turnscout.h", "include/turnscout/export.h"}) {
    CHECK_MESSAGE(std::filesystem::exists(prefix + "/" + file), file);
  }
  for (const char* file : {"/libturnscout.so", "/cmake/turnscout/turnscoutConfig.cmake",
                           "/cmake/turnscout/turnscoutConfigVersion.cmake",
                           "/cmake/turnscout/turnscoutTargets.cmake", "/pkgconfig/turnscout.pc"}) {
    CHECK_MESSAGE(std::filesystem::exists(libdir + file), file);
  }

  // The example consumer, configured and built against the prefix only.
  const std::string build = work.file("consumer-build");
  const std::string flags = TURNSCOUT_SANITIZE_FLAGS;
  run(work, TURNSCOUT_CMAKE,
      {"-S", TURNSCOUT_CONSUMER_SOURCE, "-B", build, "-G", TURNSCOUT_CMAKE_GENERATOR,
       "-DCMAKE_PREFIX_PATH=" + prefix, "-DCMAKE_CXX_COMPILER=" TURNSCOUT_CXX_COMPILER,
       "-DCMAKE_BUILD_TYPE=Debug", "-DCMAKE_CXX_FLAGS=" + flags,
       "-DCMAKE_EXE_LINKER_FLAGS=" + flags});
  run(work, TURNSCOUT_CMAKE, {"--build", build});

  // pkg-config, with the prefix's .pc only.
  const auto pkg_config = find_in_path("pkg-config");
  REQUIRE(pkg_config.has_value());
  const std::string pc_path = "PKG_CONFIG_PATH=" + libdir + "/pkgconfig";
  const CommandResult version =
      run(work, "/usr/bin/env", {pc_path, *pkg_config, "--modversion", "turnscout"});
  CHECK(version.output.find(TURNSCOUT_VERSION) != std::string::npos);
  const CommandResult pc =
      run(work, "/usr/bin/env", {pc_path, *pkg_config, "--cflags", "--libs", "turnscout"});
  CHECK(pc.output.find("-lturnscout") != std::string::npos);
  CHECK(pc.output.find("/include") != std::string::npos);
  // The C program, built from the pkg-config flags alone.
  const std::string program = work.file("c_api_program");
  std::vector<std::string> cc_args{
      "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", program, TURNSCOUT_C_API_SOURCE};
  for (const std::string& w : words(pc.output))
    cc_args.push_back(w);
  cc_args.push_back("-Wl,-rpath," + libdir);
  for (const std::string& w : c_sanitizer_flags())
    cc_args.push_back(w);
  run(work, TURNSCOUT_C_COMPILER, cc_args);

  Tree t;
  t.start();
  const CommandResult consumer =
      run(work, build + "/consumer", {t.root_address()}, std::chrono::seconds{20});
  CHECK((consumer.output.find(Tree::service_of(*t.leaf1)) != std::string::npos ||
         consumer.output.find(Tree::service_of(*t.leaf2)) != std::string::npos));
  // On its own loop, with libuv from find_package(turnscout) alone.
  const CommandResult on_loop =
      run(work, build + "/loop_consumer", {t.root_address()}, std::chrono::seconds{20});
  CHECK((on_loop.output.find(Tree::service_of(*t.leaf1)) != std::string::npos ||
         on_loop.output.find(Tree::service_of(*t.leaf2)) != std::string::npos));
  const CommandResult c_program = run(work, program, {t.root_address()}, std::chrono::seconds{20});
  CHECK(c_program.output.find("c api: all checks passed") != std::string::npos);
}

// An installed `turnscout cluster --processes` finds the installed turnscout-server (it
// once failed: the server was not installed) and runs the installed example topology.
TEST_CASE("install: an installed turnscout cluster --processes runs the installed server") {
  TempDir work{"turnscout-install-cluster"};
  const std::string prefix = work.file("prefix");
  for (const char* component : {"sdk", "cli", "server"}) {
    run(work, TURNSCOUT_CMAKE,
        {"--install", TURNSCOUT_BUILD_DIR, "--prefix", prefix, "--component", component});
  }
  const std::string server = prefix + "/" TURNSCOUT_INSTALL_SBINDIR "/turnscout-server";
  REQUIRE(std::filesystem::exists(server));
  const std::string state = work.file("state.json");
  auto cluster = ChildProcess::spawn(
      prefix + "/" TURNSCOUT_INSTALL_BINDIR "/turnscout",
      {"cluster", prefix + "/" TURNSCOUT_INSTALL_DATADIR "/turnscout/examples/demo.yaml",
       "--processes", "--state-file", state},
      work.file("cluster.out"));
  REQUIRE_MESSAGE(cluster.ok(), (cluster.ok() ? "" : cluster.error()));
  const bool written = wait_until(std::chrono::seconds{60}, std::chrono::milliseconds{20},
                                  [&] { return !read_file(state).empty(); });
  INFO(cluster->output());
  REQUIRE(written);
  const auto json = nlohmann::json::parse(read_file(state));
  CHECK(json.at("converged") == true);
  size_t run_by_installed = 0;
  for (const auto& node : json.at("nodes")) {
    if (!node.at("command").is_array()) continue;
    const std::filesystem::path binary = node.at("command").at(0).get<std::string>();
    if (std::filesystem::equivalent(binary, server)) ++run_by_installed;
  }
  CHECK(run_by_installed == json.at("nodes").size());  // 15, the drained one included.
  REQUIRE(cluster->send_signal(SIGTERM));
  const auto status = cluster->wait(std::chrono::seconds{15});
  REQUIRE(status.has_value());
  CHECK(*status == ExitStatus{true, 0});
}

}  // namespace turnscout::test
