# The server's I/O layer and binary: unit tests of the libuv adapters on loopback
# (server_io_tests) and tests that run real turnscout-server processes
# (server_process_tests), plus the reusable test-support library they share.

# Child processes, temp folders and a blocking UDP/Probe client, for any test that drives
# real binaries (HTTP requests go through tools/http, as the product's own do).
add_library(turnscout_test_support STATIC
  ${PROJECT_SOURCE_DIR}/tests/support/certificate.cpp
  ${PROJECT_SOURCE_DIR}/tests/support/child_process.cpp
  ${PROJECT_SOURCE_DIR}/tests/support/temp_dir.cpp
  ${PROJECT_SOURCE_DIR}/tests/support/udp_client.cpp
)
target_link_libraries(turnscout_test_support PUBLIC turnscout_common turnscout_proto turnscout_http)

add_executable(server_io_tests
  ${CMAKE_CURRENT_LIST_DIR}/process/io_batch_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process/io_config_load_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process/io_http_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process/io_loop_test.cpp
)
target_link_libraries(server_io_tests PRIVATE turnscout_server_io turnscout_test_support
                                              turnscout_doctest_main)
add_test(NAME server_io_tests COMMAND server_io_tests)
set_tests_properties(server_io_tests PROPERTIES TIMEOUT 60)

add_executable(server_process_tests
  ${CMAKE_CURRENT_LIST_DIR}/process/cli_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process/lifecycle_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process/metrics_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process/server_process.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process/service_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process/stream_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process/tree_test.cpp
)
target_link_libraries(server_process_tests PRIVATE turnscout_test_support turnscout_doctest_main)
target_compile_definitions(server_process_tests PRIVATE
  TURNSCOUT_SERVER_BIN="$<TARGET_FILE:turnscout-server>"
)
add_dependencies(server_process_tests turnscout-server)
# One CTest entry per group so they can run in parallel; each is bounded in time.
foreach(group cli lifecycle metrics service stream tree)
  add_test(NAME server_process_${group}
           COMMAND server_process_tests --source-file=*${group}_test.cpp)
  set_tests_properties(server_process_${group} PROPERTIES TIMEOUT 120)
endforeach()
