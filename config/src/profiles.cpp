// Device profiles: finding `<name>@<version>.yaml` along profiles_path and reading it with the
// same point, device and codec readers as the site file, every error located in the profile file.

#include "profiles.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "diagnostics.hpp"
#include "near_miss.hpp"
#include "object_reader.hpp"
#include "yaml_documents.hpp"

namespace guardian::config::detail {
namespace {

constexpr std::string_view kExtension = ".yaml";

struct Reference {
  std::string name;
  int version = 0;  // 0: the newest
};

/// "name" or "name@version"; the parser has already checked the shape.
Reference split(std::string_view text) {
  const auto at = text.find('@');
  Reference r{std::string(text.substr(0, at)), 0};
  if (at != std::string_view::npos) {
    const auto digits = text.substr(at + 1);
    std::from_chars(digits.data(), digits.data() + digits.size(), r.version);
  }
  return r;
}

/// The version in a file name `<name>@<version>.yaml`, or 0 when the file is not one of `name`'s.
int version_of(const std::filesystem::path& file, const std::string& name) {
  const std::string file_name = file.filename().string();
  const std::string prefix = name + "@";
  if (!file_name.starts_with(prefix) || !file_name.ends_with(kExtension)) return 0;
  const std::string_view digits = std::string_view(file_name).substr(
      prefix.size(), file_name.size() - prefix.size() - kExtension.size());
  int version = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
  if (ec != std::errc{} || end != digits.data() + digits.size() || version < 1) return 0;
  return version;
}

/// Every `<name>@<version>.yaml` in `dir`, as "name@version".
std::set<std::string> profiles_in(const std::filesystem::path& dir) {
  std::set<std::string> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string file_name = entry.path().filename().string();
    const auto at = file_name.find('@');
    if (at == std::string::npos || !file_name.ends_with(kExtension)) continue;
    if (version_of(entry.path(), file_name.substr(0, at)) > 0)
      found.insert(file_name.substr(0, file_name.size() - kExtension.size()));
  }
  return found;
}

}  // namespace

ScalarParser<std::string> profile_reference() {
  static constexpr std::string_view kExpected =
      "a profile name, optionally with @version (e.g. eastron-sdm120 or eastron-sdm120@1)";
  return {std::string(kExpected), [](std::string_view text) -> result<std::string> {
            const auto at = text.find('@');
            if (auto name = identifier().parse(text.substr(0, at)); !name)
              return expected_but_got(kExpected, text);
            if (at != std::string_view::npos) {
              const auto digits = text.substr(at + 1);
              int version = 0;
              const auto [end, ec] =
                  std::from_chars(digits.data(), digits.data() + digits.size(), version);
              if (ec != std::errc{} || end != digits.data() + digits.size() || version < 1)
                return expected_but_got(kExpected, text,
                                        "the version after @ is a whole number from 1");
            }
            return std::string(text);
          }};
}

ProfileLibrary::ProfileLibrary(std::vector<std::filesystem::path> search_path)
    : search_path_(std::move(search_path)) {}

const DeviceProfile* ProfileLibrary::resolve(std::string_view reference, std::string& problem) {
  const auto wanted = split(reference);
  for (const auto& dir : search_path_) {
    std::filesystem::path file;
    int version = wanted.version;
    if (wanted.version > 0) {
      file = dir / (wanted.name + "@" + std::to_string(wanted.version) + std::string(kExtension));
      std::error_code ec;
      if (!std::filesystem::is_regular_file(file, ec)) continue;
    } else {
      // The newest version in the first directory that has the profile: a site's own copy in
      // /etc/guardian/profiles takes precedence over the shipped ones.
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const int v = version_of(entry.path(), wanted.name);
        if (v > version) {
          version = v;
          file = entry.path();
        }
      }
      if (version == 0) continue;
    }
    const auto& profile = load(file, wanted.name, version);
    return profile.valid ? &profile : nullptr;
  }

  std::set<std::string> available;
  std::string searched;
  for (const auto& dir : search_path_) {
    searched += (searched.empty() ? "" : ", ") + dir.string();
    available.merge(profiles_in(dir));
  }
  problem = "profile '" + std::string(reference) + "' not found in " +
            (searched.empty() ? std::string("an empty profiles_path") : searched);
  std::vector<std::string_view> names;
  for (const auto& p : available) names.push_back(p);
  std::vector<std::string_view> bare;
  for (const auto& p : available) bare.push_back(std::string_view(p).substr(0, p.find('@')));
  if (const auto close = closest_match(wanted.name, bare))
    problem += " (did you mean '" + std::string(*close) + "'?)";
  if (!names.empty())
    problem += "; profiles there: " + quoted_list(names);
  else
    problem += "; add the directory that holds <name>@<version>.yaml to profiles_path";
  return nullptr;
}

const DeviceProfile& ProfileLibrary::load(const std::filesystem::path& file,
                                          const std::string& name, int version) {
  if (const auto cached = cache_.find(file); cached != cache_.end()) return cached->second;
  auto& profile = cache_[file];
  profile.name = name;
  profile.version = version;
  profile.file = file;
  Diagnostics diagnostics(file.string());

  std::ifstream in(file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in) {
    diagnostics.error("cannot read the profile");
  } else if (const auto root = read_single_document(content.str(), diagnostics)) {
    ObjectReader r(*root, root->Mark(), "", diagnostics);
    const std::string expected = name + "@" + std::to_string(version);
    if (auto written = r.required("profile", identifier()); written && *written != name)
      r.error("profile", "the file is named " + expected + ".yaml but says profile '" + *written +
                             "': the name in the file and the file name must agree");
    if (auto written = r.required("version", integer_in<int>(1, 1'000'000));
        written && *written != version)
      r.error("version", "the file is named " + expected + ".yaml but says version " +
                             std::to_string(*written) +
                             ": the version in the file and the file name must agree");
    r.read("description", profile.description, text());
    std::string reference_text;
    r.read("reference", reference_text, text());
    if (r.has("codec")) {
      // A stream protocol: what a serial, TCP or UDP adapter would declare under codec/poll.
      for (const auto* key : {"points", "defaults", "address_base"})
        r.forbid(key, "a profile with a codec (serial, TCP, UDP equipment) has no '" +
                          std::string(key) + "': that belongs to a Modbus register map");
      r.section("codec", Presence::required,
                [&](ObjectReader& c) { read_codec(c, profile.codec.emplace()); });
      r.section("poll", Presence::optional,
                [&](ObjectReader& p) { read_poll(p, profile.poll.emplace()); });
    } else {
      r.section("defaults", Presence::optional,
                [&](ObjectReader& d) { read_modbus_device_defaults(d, profile.defaults); });
      read_modbus_points(r, read_address_base(r), Items::at_least_one, profile.points);
    }
    r.finish();
  }
  auto errors = diagnostics.take_in_file_order();
  profile.valid = errors.empty();
  errors_.insert(errors_.end(), std::make_move_iterator(errors.begin()),
                 std::make_move_iterator(errors.end()));
  auto warnings = diagnostics.take_warnings_in_file_order();  // marked: the loader sorts them out
  errors_.insert(errors_.end(), std::make_move_iterator(warnings.begin()),
                 std::make_move_iterator(warnings.end()));
  return profile;
}

std::vector<ConfigError> ProfileLibrary::take_errors() { return std::exchange(errors_, {}); }

}  // namespace guardian::config::detail
