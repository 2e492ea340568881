# Data plane: admission control, listing strategies, the Probe/Binding responder.
# alloc_counter.cpp replaces operator new to count allocations for the whole binary.
add_executable(server_dataplane_tests
  ${CMAKE_CURRENT_LIST_DIR}/admission_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/strategy_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/responder_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stream_table_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/alloc_counter.cpp
)
target_link_libraries(server_dataplane_tests PRIVATE turnscout_server_dataplane
                                                     turnscout_doctest_main)
add_test(NAME server_dataplane_tests COMMAND server_dataplane_tests)
