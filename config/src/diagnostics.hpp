#pragma once
/// \file
/// Collects located configuration errors while a file is read, so that loading never stops at the
/// first problem. Private to config/.

#include <string>
#include <vector>

#include <yaml-cpp/mark.h>

#include "guardian/config/loader.hpp"
#include "guardian/config/site_config.hpp"

namespace guardian::config::detail {

/// Every error found in one file, with 1-based positions. Not thread-safe (one per load).
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  /// The file name used in every location.
  [[nodiscard]] const std::string& file() const noexcept { return file_; }

  /// Converts a yaml-cpp mark (0-based, -1 when unknown) to a 1-based location in this file.
  [[nodiscard]] SourceLocation locate(const YAML::Mark& mark) const;

  /// Records an error at `mark`.
  void error(const YAML::Mark& mark, std::string message);
  /// Records an error at an already converted location.
  void error(const SourceLocation& where, std::string message);
  /// Records an error that has no position in the file (e.g. the file cannot be read).
  void error(std::string message);

  /// Records a warning at an already converted location: legal, but probably a mistake.
  void warning(const SourceLocation& where, std::string message);

  [[nodiscard]] bool empty() const noexcept { return errors_.empty(); }

  /// The errors in file order (line, then column; unpositioned ones first), moved out.
  [[nodiscard]] std::vector<ConfigError> take_in_file_order();
  /// The warnings the same way.
  [[nodiscard]] std::vector<ConfigError> take_warnings_in_file_order();

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
  std::vector<ConfigError> warnings_;
};

}  // namespace guardian::config::detail
