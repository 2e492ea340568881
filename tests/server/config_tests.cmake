# server_config_tests: the YAML loader against configs/*.yaml and the broken fixtures in
# tests/server/configs/, and the load-source arithmetic.
add_executable(server_config_tests
  ${CMAKE_CURRENT_LIST_DIR}/config_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/load_parse_test.cpp
)
target_link_libraries(server_config_tests PRIVATE turnscout_server_config turnscout_doctest_main)

# The loader refuses key files that other users can read, and git records no such mode: the
# tests read a copy of the fixtures, made at configure time, that only its owner can read.
set(_fixtures_copy ${CMAKE_CURRENT_BINARY_DIR}/config_fixtures)
file(GLOB_RECURSE _fixture_files CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/configs/*)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_fixture_files})
file(REMOVE_RECURSE ${_fixtures_copy})
file(COPY ${CMAKE_CURRENT_LIST_DIR}/configs/ DESTINATION ${_fixtures_copy}
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE)

target_compile_definitions(server_config_tests PRIVATE
  TURNSCOUT_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  TURNSCOUT_CONFIG_FIXTURES="${_fixtures_copy}"
)
add_test(NAME server_config_tests COMMAND server_config_tests)
