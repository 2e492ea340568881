#!/usr/bin/env python3
"""Tests of check_layers.py: a small tree that keeps every rule passes, and each kind of
violation, added to it alone, makes the check fail and name the file."""

import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

CHECK = Path(__file__).resolve().parent / "check_layers.py"

CLEAN = {
    "base/result.hpp": "#pragma once\n#include <variant>\n",
    "proto/message.hpp": '#pragma once\n#include "base/result.hpp"\n',
    "common/format.hpp": "#pragma once\n#include <fmt/format.h>\n",
    "common/yaml.hpp": "#pragma once\n#include <yaml-cpp/yaml.h>\n",
    "server/core/core.cpp": '#include "proto/message.hpp"\n#include "common/format.hpp"\n',
    "server/io/loop.cpp": '#include <uv.h>\n#include "server/core/core.cpp"\n',
    "client/core/prober.cpp": '#include "proto/message.hpp"\n',
    "tools/http/get.cpp": '#include <sys/socket.h>\n#include "common/yaml.hpp"\n',
    "client/cli/main.cpp": '#include "tools/http/get.cpp"\n',
    "tests/support/fake.cpp": '#include "server/io/loop.cpp"\n',
    "CMakeLists.txt": "add_subdirectory(server)\nadd_subdirectory(tests)\n",
    "server/CMakeLists.txt": "add_library(server_core STATIC core/core.cpp)\n",
    "tests/CMakeLists.txt": "add_library(test_fakes STATIC support/fake.cpp)\n",
}


def run(tree: dict[str, str]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as root:
        for rel, text in tree.items():
            path = Path(root, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return subprocess.run([sys.executable, str(CHECK), root], capture_output=True,
                              text=True, check=False)


class CheckLayersTest(unittest.TestCase):
    def assert_fails(self, changes: dict[str, str], needle: str):
        tree = dict(CLEAN)
        for rel, text in changes.items():
            tree[rel] = tree.get(rel, "") + text
        result = run(tree)
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn(needle, result.stdout)

    def test_clean_tree_passes(self):
        result = run(CLEAN)
        self.assertEqual(result.returncode, 0, result.stdout)
        self.assertIn("no violation", result.stdout)

    def test_core_including_libuv_fails(self):
        self.assert_fails({"server/core/core.cpp": "#include <uv.h>\n"},
                          "server/core/core.cpp:3: pure server/core/ includes <uv.h>")

    def test_core_including_yaml_or_spdlog_fails(self):
        self.assert_fails({"client/core/prober.cpp": "#include <spdlog/spdlog.h>\n"},
                          "pure client/core/ includes <spdlog/spdlog.h>")
        self.assert_fails({"server/core/core.cpp": '#include "common/yaml.hpp"\n'},
                          "server/core/ may not include common/yaml.hpp")

    def test_core_calling_a_file_function_fails(self):
        self.assert_fails({"server/core/core.cpp": 'void f() { fopen("x", "r"); }\n'},
                          "pure server/core/ calls fopen()")

    def test_base_depending_on_proto_or_fmt_fails(self):
        self.assert_fails({"base/result.hpp": '#include "proto/message.hpp"\n'},
                          "base/ may not include proto/message.hpp")
        self.assert_fails({"base/result.hpp": "#include <fmt/format.h>\n"},
                          "base/ includes <fmt/format.h>")

    def test_shipped_code_including_tests_fails(self):
        self.assert_fails({"tools/http/get.cpp": '#include "tests/support/fake.cpp"\n'},
                          "shipped code includes tests/support/fake.cpp")

    def test_an_include_against_the_table_fails(self):
        self.assert_fails({"tools/http/get.cpp": '#include "client/cli/main.cpp"\n'},
                          "tools/http/ may not include client/cli/main.cpp")

    def test_angle_bracket_and_relative_project_includes_are_checked(self):
        self.assert_fails({"tools/http/get.cpp": "#include <client/cli/main.cpp>\n"},
                          "tools/http/ may not include client/cli/main.cpp")
        self.assert_fails({"server/core/core.cpp": '#include "../io/loop.cpp"\n'},
                          "server/core/ may not include server/io/loop.cpp")

    def test_a_member_named_like_a_socket_call_is_not_a_violation(self):
        tree = dict(CLEAN)
        tree["client/core/prober.cpp"] += "bool Descent::accept(int x) { return x > 0; }\n"
        result = run(tree)
        self.assertEqual(result.returncode, 0, result.stdout)
        self.assert_fails({"client/core/prober.cpp": "void f() { ::close(3); }\n"},
                          "pure client/core/ calls ::close()")

    def test_a_cycle_between_folders_fails(self):
        # server/ includes common/ already; common/ including server/ closes a cycle.
        self.assert_fails({"common/format.hpp": '#include "server/core/core.cpp"\n'},
                          "cycle between top-level folders: common -> server -> common")

    def test_a_shipped_target_linking_a_test_target_fails(self):
        self.assert_fails({"server/CMakeLists.txt":
                           "target_link_libraries(server_core PRIVATE test_fakes)\n"},
                          "links test_fakes, a target defined under tests/")
        self.assert_fails({"server/CMakeLists.txt":
                           "add_library(x STATIC ${PROJECT_SOURCE_DIR}/tests/support/fake.cpp)\n"},
                          "names a file under tests/")


if __name__ == "__main__":
    unittest.main(verbosity=2)
