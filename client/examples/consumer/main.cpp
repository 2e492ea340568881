// Finds a TURN server through the given turnscout roots with the blocking call and prints
// the chosen URI. `consumer ROOT...`; exit code 0 when one was found.
#include <cstdio>

#include <turnscout/client.hpp>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s ROOT...   (e.g. 192.0.2.1:3478)\n", argv[0]);
    return 2;
  }
  turnscout::DiscoverOptions options;
  for (int i = 1; i < argc; ++i)
    options.roots.emplace_back(argv[i]);
  options.verify = true;
  const turnscout::DiscoveryResult result = turnscout::discover(options);
  if (!result.ok()) {
    std::fprintf(stderr, "no TURN server: %s\n", result.failure.c_str());
    return 1;
  }
  std::printf("%s\n", result.services.front().uri.c_str());
  return 0;
}
