// The same, on an event loop the program owns: turnscout::Client on a libuv loop, the
// result delivered to a callback. `loop_consumer ROOT...`; exit code 0 when one was found.
// libuv comes with find_package(turnscout): nothing else is looked for in CMakeLists.txt.
#include <uv.h>

#include <cstdio>

#include <turnscout/client.hpp>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s ROOT...   (e.g. 192.0.2.1:3478)\n", argv[0]);
    return 2;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  int status = 1;
  {
    turnscout::Client client(&loop);
    turnscout::DiscoverOptions options;
    for (int i = 1; i < argc; ++i)
      options.roots.emplace_back(argv[i]);
    client.discover(options, [&status](turnscout::DiscoveryResult result) {
      if (!result.ok()) {
        std::fprintf(stderr, "no TURN server: %s\n", result.failure.c_str());
        return;
      }
      std::printf("%s\n", result.services.front().uri.c_str());
      status = 0;
    });
    uv_run(&loop, UV_RUN_DEFAULT);  // Returns once the discovery's callback has run.
  }
  uv_run(&loop, UV_RUN_DEFAULT);  // The client's close callbacks.
  return uv_loop_close(&loop) == 0 ? status : 1;
}
