// A private temporary folder for one test (configs, ready files, process output), removed
// with everything in it when the object goes away.
#pragma once

#include <string>
#include <string_view>

namespace turnscout::test {

class TempDir {
 public:
  // Created under $TMPDIR (or /tmp) as `<prefix>-XXXXXX`. Aborts the test run if the
  // folder cannot be made: nothing useful can follow.
  explicit TempDir(std::string_view prefix = "turnscout-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // `name` joined to the folder; the file need not exist.
  std::string file(std::string_view name) const;
  // Writes `content` to `name` atomically (temporary file + rename) and returns its path,
  // so a process reading the file never sees half of it.
  std::string write(std::string_view name, std::string_view content) const;
  // The same, readable by the owner only: a key file the server accepts.
  std::string write_secret(std::string_view name, std::string_view content) const;

 private:
  std::string path_;
};

// Whole content of a file; empty if it cannot be read.
std::string read_file(const std::string& path);

}  // namespace turnscout::test
