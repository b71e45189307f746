// Device profiles: finding them along profiles_path (newest or exact version), what a site may
// override, and errors inside a profile located in the profile file itself.

#include <gtest/gtest.h>

#include "config_expectations.hpp"
#include "guardian/config/loader.hpp"
#include "guardian/testing/environment.hpp"

namespace guardian::config {
namespace {

using guardian::testing::TempDir;
using guardian::testing::write_file;
using testing::describe;
using testing::loads;

constexpr std::string_view kMeterV1 = R"(# a test meter
profile: meter
version: 1
description: Test meter, first register map
defaults:
  poll_interval: 5s
  timeout: 300ms
  write_multiple: true
address_base: 1
points:
  - {name: voltage, table: input, address: 1, type: float32, unit: V}
  - {name: current, table: input, address: 7, type: float32, unit: A}
  - {name: relay, table: coil, address: 1, type: bool, writable: true}
)";

constexpr std::string_view kMeterV2 = R"(profile: meter
version: 2
points:
  - {name: voltage, table: input, address: 0, type: float32, unit: V}
  - {name: frequency, table: input, address: 70, type: float32, unit: Hz}
)";

/// A site in `dir` whose one device is `device_yaml` (indented under devices:).
std::string site(std::string_view profiles_path, std::string_view device_yaml) {
  return "device: {id: gw}\n"                                   // 1
         "profiles_path: " + std::string(profiles_path) + "\n"  // 2
         "adapters:\n"                                          // 3
         "  - name: bus\n"                                      // 4
         "    type: modbus\n"                                   // 5
         "    host: 127.0.0.1\n"                                // 6
         "    devices:\n"                                       // 7
         + std::string(device_yaml);                            // 8…
}

const ModbusDevice& only_device(const LoadResult& r) {
  return std::get<ModbusAdapterConfig>(r.config->adapters.at(0)).devices.at(0);
}

struct Library {
  Library() {
    write_file(dir / "profiles/meter@1.yaml", std::string(kMeterV1));
    write_file(dir / "profiles/meter@2.yaml", std::string(kMeterV2));
  }
  [[nodiscard]] LoadResult load(std::string_view device_yaml,
                                std::string_view path = "[profiles]") const {
    return parse_site_config(site(path, device_yaml), (dir / "site.yaml").string());
  }
  TempDir dir{"guardian-profiles"};
};

TEST(DeviceProfiles, ANameAloneTakesTheNewestVersionAndNameAtVersionThatOne) {
  Library lib;
  const auto newest = lib.load("      - {name: m1, profile: meter}\n");
  ASSERT_TRUE(loads(newest));
  EXPECT_EQ(only_device(newest).profile, "meter@2");
  ASSERT_EQ(only_device(newest).points.size(), 2U);
  EXPECT_EQ(only_device(newest).points[1].name, "frequency");

  const auto first = lib.load("      - {name: m1, profile: meter@1}\n");
  ASSERT_TRUE(loads(first));
  const auto& d = only_device(first);
  EXPECT_EQ(d.profile, "meter@1");
  ASSERT_EQ(d.points.size(), 3U);
  EXPECT_EQ(d.points[0].address, 0);  // the profile's own address_base: 1 → protocol 0
  EXPECT_EQ(d.points[1].address, 6);
  EXPECT_EQ(d.points[0].unit, "V");
  EXPECT_TRUE(d.points[2].writable);
  EXPECT_EQ(d.points[0].where.file, (lib.dir / "profiles/meter@1.yaml").string());
  EXPECT_EQ(d.points[0].where.line, 11);
}

TEST(DeviceProfiles, TheSiteOverridesUnitIdRatesAndPointsAndKeepsTheProfilesDefaults) {
  Library lib;
  const auto r = lib.load(
      "      - name: m1\n"
      "        profile: meter@1\n"
      "        unit_id: 7\n"
      "        timeout: 800ms\n"
      "        points:\n"
      "          - {name: current, table: input, address: 8, type: float32, unit: mA,\n"
      "             scale: 1000}\n"
      "          - {name: energy, table: input, address: 0x48, type: float32, unit: kWh}\n");
  ASSERT_TRUE(loads(r)) << describe(r);
  const auto& d = only_device(r);
  EXPECT_EQ(d.unit_id, 7);
  EXPECT_EQ(d.timeout, std::chrono::milliseconds{800});       // the site's
  EXPECT_EQ(d.poll_interval, std::chrono::milliseconds{5000});  // the profile's default
  EXPECT_TRUE(d.write_multiple);                               // the profile's default
  ASSERT_EQ(d.points.size(), 4U);
  EXPECT_EQ(d.points[1].name, "current");  // replaced in place
  EXPECT_EQ(d.points[1].unit, "mA");
  EXPECT_EQ(d.points[1].address, 8);  // the site's address_base (0 by default)
  EXPECT_EQ(d.points[3].name, "energy");  // added after the profile's
  EXPECT_EQ(d.points[3].address, 0x48);
}

TEST(DeviceProfiles, ProfilesPathIsSearchedInOrderAndRelativeToTheSiteFile) {
  Library lib;
  // A site's own copy in an earlier directory wins over the later one, even if older.
  write_file(lib.dir / "local/meter@1.yaml", std::string(kMeterV1));
  const auto r = lib.load("      - {name: m1, profile: meter}\n", "[local, profiles]");
  ASSERT_TRUE(loads(r)) << describe(r);
  EXPECT_EQ(only_device(r).profile, "meter@1");
  EXPECT_EQ(only_device(r).points[0].where.file, (lib.dir / "local/meter@1.yaml").string());
  EXPECT_EQ(r.config->profiles_path.at(0), lib.dir / "local");
}

TEST(DeviceProfiles, AnUnknownProfileIsReportedAtTheReferenceWithWhatThereIs) {
  Library lib;
  const auto r = lib.load("      - {name: m1, profile: metre@1}\n");
  ASSERT_EQ(r.errors.size(), 1U) << describe(r);
  const auto& e = r.errors[0];
  EXPECT_EQ(e.file, (lib.dir / "site.yaml").string());
  EXPECT_EQ(e.line, 8);
  EXPECT_EQ(e.column, 29);
  EXPECT_NE(e.message.find("profile 'metre@1' not found in " + (lib.dir / "profiles").string() +
                           " (did you mean 'meter'?); profiles there: 'meter@1', 'meter@2'"),
            std::string::npos)
      << e.message;
  const auto missing_version = lib.load("      - {name: m1, profile: meter@3}\n");
  ASSERT_EQ(missing_version.errors.size(), 1U);
  EXPECT_NE(missing_version.errors[0].message.find("profile 'meter@3' not found"),
            std::string::npos);
  const auto bad = lib.load("      - {name: m1, profile: meter@x}\n");
  ASSERT_EQ(bad.errors.size(), 1U);
  EXPECT_EQ(bad.errors[0].column, 29);
  EXPECT_NE(bad.errors[0].message.find("the version after @ is a whole number from 1"),
            std::string::npos);
}

TEST(DeviceProfiles, ErrorsInsideAProfileAreLocatedInTheProfileFileAndReportedOnce) {
  Library lib;
  write_file(lib.dir / "profiles/broken@1.yaml",
             "profile: broken\n"
             "version: 1\n"
             "defaults: {poll_intervall: 1s}\n"
             "points:\n"
             "  - {name: v, table: input, address: 0, type: flot32}\n"
             "  - {name: s, table: input, address: 2, type: int16, writable: true}\n");
  const auto r = lib.load(
      "      - {name: m1, profile: broken}\n"
      "      - {name: m2, profile: broken@1, unit_id: 2}\n");
  ASSERT_EQ(r.errors.size(), 3U) << describe(r);
  const std::string file = (lib.dir / "profiles/broken@1.yaml").string();
  EXPECT_EQ(r.errors[0].to_string(),
            file + ":3:12: error: defaults: unknown key 'poll_intervall' (did you mean "
                   "'poll_interval'?)");
  EXPECT_EQ(r.errors[1].file, file);
  EXPECT_EQ(r.errors[1].line, 5);
  EXPECT_EQ(r.errors[1].column, 47);
  EXPECT_NE(r.errors[1].message.find("points[0].type: unknown value 'flot32'"), std::string::npos);
  EXPECT_EQ(r.errors[2].line, 6);
  EXPECT_NE(r.errors[2].message.find("points[1].writable"), std::string::npos);
  EXPECT_FALSE(r.config.has_value());
}

TEST(DeviceProfiles, TheNameAndVersionInsideMustMatchTheFileName) {
  Library lib;
  write_file(lib.dir / "profiles/pump@2.yaml",
             "profile: pmup\nversion: 1\npoints:\n"
             "  - {name: v, table: input, address: 0, type: int16}\n");
  const auto r = lib.load("      - {name: m1, profile: pump}\n");
  ASSERT_EQ(r.errors.size(), 2U) << describe(r);
  EXPECT_EQ(r.errors[0].line, 1);
  EXPECT_NE(r.errors[0].message.find("the file is named pump@2.yaml but says profile 'pmup'"),
            std::string::npos);
  EXPECT_EQ(r.errors[1].line, 2);
  EXPECT_NE(r.errors[1].message.find("but says version 1"), std::string::npos);
}

TEST(DeviceProfiles, AProfileWithAYamlSyntaxErrorIsReportedInItsFile) {
  Library lib;
  write_file(lib.dir / "profiles/bad@1.yaml", "profile: bad\nversion: 1\npoints: [\n");
  const auto r = lib.load("      - {name: m1, profile: bad}\n");
  ASSERT_EQ(r.errors.size(), 1U) << describe(r);
  EXPECT_EQ(r.errors[0].file, (lib.dir / "profiles/bad@1.yaml").string());
  EXPECT_NE(r.errors[0].message.find("YAML syntax error"), std::string::npos);
}

TEST(DeviceProfiles, WithoutProfilesPathTheSitesAndTheShippedDirectoriesAreSearched) {
  const auto path = default_profiles_path();
  ASSERT_EQ(path.size(), 2U);
  EXPECT_EQ(path[0], "/etc/guardian/profiles");
  EXPECT_EQ(path[1].filename(), "profiles");
  const auto r = parse_site_config("device: {id: gw}\n", "/tmp/site.yaml");
  ASSERT_TRUE(loads(r));
  EXPECT_EQ(r.config->profiles_path, path);
}

TEST(DeviceProfiles, ADeviceWithoutAProfileStillNeedsPoints) {
  Library lib;
  const auto r = lib.load("      - {name: m1}\n");
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].line, 8);
  EXPECT_NE(r.errors[0].message.find("missing required key 'points'"), std::string::npos);
}

// ─────────────────────────── stream profiles ───────────────────────────

constexpr std::string_view kScaleV1 = R"(profile: scale
version: 1
description: A scale that answers W? with its weight
codec:
  type: lines
  messages:
    - name: weight
      regex: 'W(?<grams>[0-9.]+)'
      fields: [{name: grams, type: float, unit: g}]
poll: {send: "W?\r\n", interval: 2s, timeout: 500ms}
)";

/// A site whose one adapter is a serial adapter with `adapter_yaml` added to its keys.
std::string serial_site(std::string_view adapter_yaml,
                        const std::string& profiles_path = "[profiles]") {
  return "device: {id: gw}\n"                               // 1
         "profiles_path: " + profiles_path + "\n"           // 2
         "adapters:\n"                                      // 3
         "  - name: scale-port\n"             // 4
         "    type: serial\n"                 // 5
         "    serial: {port: /dev/ttyUSB0}\n"  // 6
         + std::string(adapter_yaml);         // 7…
}

TEST(StreamProfiles, ASerialAdapterTakesTheCodecAndPollOfItsProfile) {
  Library lib;
  write_file(lib.dir / "profiles/scale@1.yaml", std::string(kScaleV1));
  const auto r = parse_site_config(serial_site("    profile: scale\n"),
                                   (lib.dir / "site.yaml").string());
  ASSERT_TRUE(loads(r)) << describe(r);
  const auto& a = std::get<StreamAdapterConfig>(r.config->adapters.at(0));
  EXPECT_EQ(a.profile, "scale@1");  // the version found, for `guardian config check`
  ASSERT_EQ(a.codec.lines.messages.size(), 1U);
  EXPECT_EQ(a.codec.lines.messages[0].name, "weight");
  EXPECT_EQ(a.codec.lines.messages[0].fields[0].unit, "g");
  ASSERT_TRUE(a.poll.has_value());
  EXPECT_EQ(a.poll->interval, std::chrono::milliseconds{2000});

  // The site's own poll wins over the profile's.
  const auto own = parse_site_config(
      serial_site("    profile: scale@1\n    poll: {send: \"W?\\r\\n\", interval: 10s}\n"),
      (lib.dir / "site.yaml").string());
  ASSERT_TRUE(loads(own)) << describe(own);
  EXPECT_EQ(std::get<StreamAdapterConfig>(own.config->adapters.at(0)).poll->interval,
            std::chrono::milliseconds{10000});
}

TEST(StreamProfiles, TheShippedSerialEspressoProfileDeclaresStatusTraceLinesAndShotRecords) {
  const auto shipped = guardian::testing::source_path("config/profiles").string();
  const auto r = parse_site_config(
      serial_site("    profile: guardian-espresso-serial\n", "[" + shipped + "]"), "/tmp/site.yaml");
  ASSERT_TRUE(loads(r)) << describe(r);
  const auto& a = std::get<StreamAdapterConfig>(r.config->adapters.at(0));
  ASSERT_EQ(a.codec.lines.messages.size(), 3U);
  EXPECT_EQ(a.codec.lines.messages[0].name, "status");
  EXPECT_EQ(a.codec.lines.messages[1].name, "trace");
  EXPECT_FALSE(a.codec.lines.messages[1].record);
  EXPECT_EQ(a.codec.lines.messages[1].fields.size(), 3U);
  EXPECT_EQ(a.codec.lines.messages[2].name, "shot");
  EXPECT_TRUE(a.codec.lines.messages[2].record);
  EXPECT_EQ(a.codec.lines.messages[2].fields.size(), 12U);
}

TEST(StreamProfiles, AProfileOfTheWrongKindOrBesideACodecIsReportedAtTheReference) {
  Library lib;
  write_file(lib.dir / "profiles/scale@1.yaml", std::string(kScaleV1));
  const std::string site_file = (lib.dir / "site.yaml").string();
  const auto modbus_map = parse_site_config(serial_site("    profile: meter@1\n"), site_file);
  ASSERT_EQ(modbus_map.errors.size(), 1U) << describe(modbus_map);
  EXPECT_EQ(modbus_map.errors[0].line, 7);
  EXPECT_NE(modbus_map.errors[0].message.find(
                "profile 'meter@1' is a Modbus register map (it has points, no codec); a serial "
                "adapter needs a profile that declares a codec"),
            std::string::npos)
      << describe(modbus_map);

  const auto both = parse_site_config(
      serial_site("    profile: scale\n    codec: {type: json-lines, messages: [{name: m, fields: "
                  "[{name: x, pointer: /x, type: int}]}]}\n"),
      site_file);
  ASSERT_EQ(both.errors.size(), 1U) << describe(both);
  EXPECT_EQ(both.errors[0].line, 8);
  EXPECT_NE(both.errors[0].message.find("give either 'codec' or 'profile'"), std::string::npos);

  const auto device = lib.load("      - {name: m1, profile: scale}\n");
  ASSERT_EQ(device.errors.size(), 1U) << describe(device);
  EXPECT_NE(device.errors[0].message.find(
                "profile 'scale' is a stream protocol (it has a codec, no points): a Modbus "
                "device needs a profile with a register map"),
            std::string::npos);

  const auto none = parse_site_config(serial_site(""), site_file);
  ASSERT_EQ(none.errors.size(), 1U) << describe(none);
  EXPECT_NE(none.errors[0].message.find("missing required key 'codec'"), std::string::npos);
}

TEST(StreamProfiles, ErrorsInAStreamProfileAreLocatedInItsFile) {
  Library lib;
  write_file(lib.dir / "profiles/scale@1.yaml",
             "profile: scale\n"
             "version: 1\n"
             "points: []\n"
             "codec:\n"
             "  type: lines\n"
             "  messages: [{name: w, regex: '(?<g>[0-9]+', fields: [{name: g, type: int}]}]\n");
  const auto r = parse_site_config(serial_site("    profile: scale\n"),
                                   (lib.dir / "site.yaml").string());
  ASSERT_EQ(r.errors.size(), 2U) << describe(r);
  const std::string file = (lib.dir / "profiles/scale@1.yaml").string();
  EXPECT_EQ(r.errors[0].file, file);
  EXPECT_EQ(r.errors[0].line, 3);
  EXPECT_NE(r.errors[0].message.find("has no 'points'"), std::string::npos);
  EXPECT_EQ(r.errors[1].file, file);
  EXPECT_EQ(r.errors[1].line, 6);
}

}  // namespace
}  // namespace guardian::config
