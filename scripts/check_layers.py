#!/usr/bin/env python3
"""Checks that the source tree keeps the layering DESIGN.md describes, and exits 1 on the first
run with any violation (each printed as FILE:LINE: rule).

  python3 scripts/check_layers.py [ROOT]

Rules:
  1. Each part includes project headers only from the parts it may depend on (ALLOWED below).
  2. Pure parts (base/, proto/, server/core/, client/core/) include no I/O or logging library
     (libuv, yaml-cpp, spdlog, socket and file APIs) and call no file or socket function.
  3. The top-level folders form no cycle.
  4. No shipped target builds or links anything from tests/: CMake files outside tests/,
     bench/ and fuzz/ name no file under tests/ and no target defined there.
"""

import os
import re
import sys
from pathlib import Path

SOURCE_SUFFIXES = {".c", ".cc", ".cpp", ".h", ".hpp"}
SKIP_DIRS = {".git", "build"}

# Part of a file: the longest prefix in this list that its path starts with.
PARTS = [
    "base", "proto", "common",
    "server/core", "server/config", "server/io", "server",
    "client/core", "client/io", "client/include", "client/cli", "client/examples", "client",
    "tools/http", "tools/impair", "tools/cluster", "tools",
    "tests", "bench", "fuzz",
]

ANY = None  # May include every part.
SERVER = ["server/core", "server/config", "server/io", "server"]
ALLOWED = {
    "base": ["base"],
    "proto": ["base", "proto"],
    "common": ["base", "proto", "common"],
    # The cores may use common/format.hpp (fmt for base types) and nothing else of common/.
    "server/core": ["base", "proto", "common/format.hpp", "server/core"],
    "server/config": ["base", "proto", "common", "server/core", "server/config"],
    "server/io": ["base", "proto", "common", "server/core", "server/config", "server/io"],
    "server": ["base", "proto", "common"] + SERVER,
    # client/core produces the public result types (client/include, standard library only).
    "client/core": ["base", "proto", "common/format.hpp", "client/include", "client/core"],
    "client/include": ["client/include"],
    "client/io": ["base", "proto", "common", "client/core", "client/include", "client/io"],
    "client/cli": ["base", "proto", "common", "client/include", "client/cli",
                   "tools/http", "tools/impair", "tools/cluster"],
    "client/examples": ["client/include"],
    "tools/http": ["base", "proto", "common", "tools/http"],
    "tools/impair": ["base", "proto", "common", "tools/impair"],
    "tools/cluster": ["base", "proto", "common", "client/include", "tools/http", "tools/impair",
                      "tools/cluster"] + SERVER,
    "tests": ANY,
    "bench": ANY,
    "fuzz": ANY,
}

PURE_PARTS = {"base", "proto", "server/core", "client/core"}
# Headers a pure part never includes: event loops, config and logging libraries, the socket,
# file and process APIs, threads.
IMPURE_HEADERS = re.compile(
    r"^(uv\.h|yaml-cpp/.*|spdlog/.*|sys/socket\.h|sys/epoll\.h|sys/stat\.h|netinet/.*|"
    r"netdb\.h|unistd\.h|fcntl\.h|poll\.h|fstream|filesystem|thread)$")
# The cores do not print either: what they have to say goes through their events or results.
CORE_PARTS = {"server/core", "client/core"}
CORE_ONLY_HEADERS = re.compile(r"^(cstdio|stdio\.h|iostream)$")
# base/ and proto/ stay free of third-party formatting too.
NO_FMT_PARTS = {"base", "proto"}
IMPURE_CALLS = re.compile(
    r"(?:\b(fopen|fread|fwrite|std::ifstream|std::ofstream|std::fstream|socket|sendto|recvfrom|"
    r"sendmsg|recvmsg|sendmmsg|recvmmsg|getaddrinfo|uv_[a-z_]+|logger)\s*\()|"
    r"(?:(?<![\w>])::(open|read|write|close|connect|bind|listen|accept|poll|ioctl)\s*\()")

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
# The public headers are included as <turnscout/...> and live in client/include/turnscout/.
PUBLIC_PREFIX = "turnscout/"


def part_of(path: str) -> str | None:
    best = None
    for p in PARTS:
        if path == p or path.startswith(p + "/"):
            if best is None or len(p) > len(best):
                best = p
    return best


def source_files(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith("build")]
        for name in filenames:
            path = Path(dirpath, name)
            if path.suffix in SOURCE_SUFFIXES:
                yield path.relative_to(root).as_posix()


def allowed(part: str, header: str) -> bool:
    rules = ALLOWED.get(part, [])
    if rules is ANY:
        return True
    return any(header == r or header.startswith(r + "/") for r in rules)


def strip_comments(line: str) -> str:
    return line.split("//", 1)[0]


def project_header(root: Path, rel: str, quote: str, header: str) -> str | None:
    """The path of an included project file relative to the root, or None for a system or
    third-party header. Angle brackets and relative paths are resolved too, so neither
    hides a project include."""
    if header.startswith(PUBLIC_PREFIX) and (root / "client/include" / header).is_file():
        return "client/include/" + header
    if (root / header).is_file():
        return Path(header).as_posix()
    if quote == '"':
        beside = (root / rel).parent / header
        if beside.is_file():
            return beside.resolve().relative_to(root.resolve()).as_posix()
    return None


def check_sources(root: Path, problems: list[str], edges: set[tuple[str, str]]):
    for rel in sorted(source_files(root)):
        part = part_of(rel)
        if part is None:
            continue
        top = rel.split("/", 1)[0]
        lines = (root / rel).read_text(errors="replace").splitlines()
        for number, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if m:
                quote, written = m.groups()
                header = project_header(root, rel, quote, written)
                target = part_of(header) if header is not None else None
                if header is not None and target is None:
                    problems.append(f"{rel}:{number}: includes {written}, which is in no part")
                elif target is not None:
                    if not allowed(part, header):
                        problems.append(f"{rel}:{number}: {part}/ may not include {header}")
                    if header.startswith("tests/") and part not in ("tests", "bench", "fuzz"):
                        problems.append(f"{rel}:{number}: shipped code includes {header}")
                    target_top = header.split("/", 1)[0]
                    if target_top != top and top not in ("tests", "bench", "fuzz"):
                        edges.add((top, target_top))
                elif part in PURE_PARTS:
                    if IMPURE_HEADERS.match(written) or (part in CORE_PARTS and
                                                         CORE_ONLY_HEADERS.match(written)):
                        problems.append(f"{rel}:{number}: pure {part}/ includes <{written}>")
                    if part in NO_FMT_PARTS and written.startswith("fmt/"):
                        problems.append(f"{rel}:{number}: {part}/ includes <{written}>")
                continue
            if part in PURE_PARTS:
                call = IMPURE_CALLS.search(strip_comments(line))
                if call:
                    name = call.group(1) or "::" + call.group(2)
                    problems.append(f"{rel}:{number}: pure {part}/ calls {name}()")


def find_cycle(edges: set[tuple[str, str]]) -> list[str] | None:
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, [])):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def cmake_files(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith("build")]
        for name in filenames:
            if name == "CMakeLists.txt" or name.endswith(".cmake"):
                yield Path(dirpath, name).relative_to(root).as_posix()


TARGET = re.compile(r"\badd_(?:library|executable)\s*\(\s*([A-Za-z0-9_.:-]+)")


def check_cmake(root: Path, problems: list[str]):
    files = sorted(cmake_files(root))
    test_targets = set()
    for rel in files:
        if rel.startswith("tests/"):
            test_targets.update(TARGET.findall((root / rel).read_text()))
    for rel in files:
        if rel.split("/", 1)[0] in ("tests", "bench", "fuzz"):
            continue
        for number, line in enumerate((root / rel).read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.search(r"(^|[/\s(])tests/", code) and "add_subdirectory(tests)" not in code:
                problems.append(f"{rel}:{number}: names a file under tests/")
            for t in test_targets:
                if re.search(rf"(?<![A-Za-z0-9_]){re.escape(t)}(?![A-Za-z0-9_])", code):
                    problems.append(f"{rel}:{number}: links {t}, a target defined under tests/")


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    problems: list[str] = []
    edges: set[tuple[str, str]] = set()
    check_sources(root, problems, edges)
    cycle = find_cycle(edges)
    if cycle:
        problems.append("cycle between top-level folders: " + " -> ".join(cycle))
    check_cmake(root, problems)
    for p in problems:
        print(p)
    files = sum(1 for _ in source_files(root))
    if problems:
        print(f"layering: {len(problems)} violations in {files} source files")
        return 1
    print(f"layering: {files} source files, {len(edges)} folder dependencies, no violation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
