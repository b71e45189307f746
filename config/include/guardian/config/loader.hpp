#pragma once
/// \file
/// Loading and validating the site configuration. Control plane: may allocate freely; never
/// throws — every problem becomes a ConfigError and loading continues so that *all* errors are
/// reported at once.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"

namespace guardian::config {

/// One located configuration problem.
struct ConfigError {
  std::string file;
  int line = 0;    ///< 1-based; 0 when the problem is not tied to a position
  int column = 0;  ///< 1-based
  std::string message;  ///< what is wrong and what was expected, e.g. "unknown key 'pol_interval' (did you mean 'poll_interval'?)"
  /// Legal but probably not what was meant (an address that looks like 4xxxx numbering): the
  /// configuration still loads.
  bool warning = false;

  /// "file:line:column: error: message" (or "warning:")
  [[nodiscard]] std::string to_string() const;
};

struct LoadResult {
  std::optional<SiteConfig> config;  ///< set only when errors is empty
  std::vector<ConfigError> errors;
  std::vector<ConfigError> warnings;  ///< in file order; never stop the load

  [[nodiscard]] bool ok() const noexcept { return config.has_value() && errors.empty(); }
};

/// Reads and validates `path`. Unreadable file, YAML syntax errors, wrong types, out-of-range
/// values, unknown keys and cross-field problems (duplicate names, a type its table cannot hold,
/// a point past the end of the address space …) all come back as errors, in file order; then
/// the errors inside the device profiles the file refers to, each located in its profile file.
/// Overlapping points are allowed: several `bit` points commonly share one register.
[[nodiscard]] LoadResult load_site_config(const std::filesystem::path& path);

/// Same as load_site_config, from text; `file_name` is used in error locations, and its
/// directory is where relative `profiles_path` entries start.
[[nodiscard]] LoadResult parse_site_config(std::string_view yaml_text, const std::string& file_name);

/// Parses a duration written as in the configuration file ("100ms", "2s", "5m"), for command-line
/// tools that take the same syntax. Errors say what was expected.
[[nodiscard]] result<Duration> parse_duration(std::string_view text);

/// Where device profiles are looked for when the site file has no `profiles_path`:
/// /etc/guardian/profiles (the site's own), then the profiles installed with Guardian.
[[nodiscard]] std::vector<std::filesystem::path> default_profiles_path();

}  // namespace guardian::config
