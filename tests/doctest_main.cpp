// The main of every test executable: doctest's, in a process that ignores SIGPIPE as
// turnscout-server and the turnscout CLI do. Many tests run servers in-process, whose TCP
// and TLS listeners (and the impairment proxy's) write with libuv's uv_write, and a client
// that resets its connection must not kill the test. (tcp_links_test puts the default back
// for one test, to check that the SDK itself never raises it.)
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <csignal>

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  return doctest::Context(argc, argv).run();
}
