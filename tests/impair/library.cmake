# turnscout_impair: the impairment proxy (pure ImpairCore + libuv adapter). Included from the
# root CMakeLists.txt whether or not tests are built, because `turnscout cluster` puts one in
# front of every virtual node.
add_library(turnscout_impair STATIC
  ${CMAKE_CURRENT_LIST_DIR}/impair_core.cpp
  ${CMAKE_CURRENT_LIST_DIR}/udp_impair_proxy.cpp
)
target_link_libraries(turnscout_impair PUBLIC turnscout_common PkgConfig::LIBUV)
