# server_config_tests: the YAML loader against configs/*.yaml and the broken fixtures in
# tests/server/configs/, and the load-source arithmetic.
add_executable(server_config_tests
  ${CMAKE_CURRENT_LIST_DIR}/config_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/load_parse_test.cpp
)
target_link_libraries(server_config_tests PRIVATE turnscout_server_config turnscout_doctest_main)
target_compile_definitions(server_config_tests PRIVATE
  TURNSCOUT_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
)
add_test(NAME server_config_tests COMMAND server_config_tests)
