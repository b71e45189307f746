#pragma once
/// \file
/// Device profiles: a model of equipment's register map (Modbus) or protocol (a stream codec, for
/// serial, TCP and UDP equipment), reusable across sites, one YAML file per profile
/// version, named `<name>@<version>.yaml`, found along the site's `profiles_path`. A site's device
/// refers to one with `profile: name` (the newest version in the first directory that has it)
/// or `profile: name@version` (exactly that version, first directory that has it). Every
/// problem inside a profile is reported at its line and column in the profile file. Private to
/// config/.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guardian/config/loader.hpp"
#include "guardian/config/site_config.hpp"
#include "sections.hpp"

namespace guardian::config::detail {

/// One profile file, read: a register map (`points`, for Modbus devices) or a protocol (`codec`
/// and optionally `poll`, for stream adapters).
struct DeviceProfile {
  std::string name;
  int version = 0;
  std::filesystem::path file;
  std::string description;
  ModbusDeviceDefaults defaults;
  std::vector<ModbusPoint> points;
  std::optional<CodecConfig> codec;  ///< set for a stream profile
  std::optional<StreamPoll> poll;
  bool valid = false;  ///< read without a single error

  /// "name@version", as a site refers to exactly this profile.
  [[nodiscard]] std::string reference() const { return name + "@" + std::to_string(version); }
};

/// Finds and reads profiles, each file once per load. Not thread-safe.
class ProfileLibrary {
 public:
  /// `search_path`: directories in the order they are searched (absolute, or relative to the
  /// process's working directory).
  explicit ProfileLibrary(std::vector<std::filesystem::path> search_path);

  /// The profile `reference` ("name" or "name@version") names. nullptr when it is not found
  /// (`problem` then says so, listing where it looked and what is there) or when its file has
  /// errors (`problem` empty: those are reported in the profile file itself).
  [[nodiscard]] const DeviceProfile* resolve(std::string_view reference, std::string& problem);

  /// The errors found in the profile files read so far: each file's in file order, files in the
  /// order they were first referred to.
  [[nodiscard]] std::vector<ConfigError> take_errors();  ///< warnings too (ConfigError::warning)

 private:
  [[nodiscard]] const DeviceProfile& load(const std::filesystem::path& file,
                                          const std::string& name, int version);

  std::vector<std::filesystem::path> search_path_;
  std::map<std::filesystem::path, DeviceProfile> cache_;
  std::vector<ConfigError> errors_;
};

/// `profile:` values: a name, optionally followed by @ and a version number ≥ 1.
[[nodiscard]] ScalarParser<std::string> profile_reference();

}  // namespace guardian::config::detail
