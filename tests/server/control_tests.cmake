# The server's control plane: child registry, parent links, heartbeat checks, ServerCore
# scenarios on the simulated network, metrics.
add_executable(server_control_tests
  ${CMAKE_CURRENT_LIST_DIR}/child_registry_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/heartbeat_auth_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/metrics_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/parent_links_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/probe_scenario_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tree_scenario_test.cpp
)
target_link_libraries(server_control_tests PRIVATE turnscout_server_log turnscout_sim
                                                   turnscout_doctest_main)
add_test(NAME server_control_tests COMMAND server_control_tests)
