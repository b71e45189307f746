// The site file as a whole: parsing the YAML, the top-level sections, and the entry points of
// loader.hpp. Every section is a list of typed reads on an ObjectReader (object_reader.hpp);
// the rules that relate several keys follow the reads.

#include "guardian/config/loader.hpp"

#include <sys/un.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "diagnostics.hpp"
#include "object_reader.hpp"
#include "profiles.hpp"
#include "scalar_parsers.hpp"
#include "sections.hpp"
#include "yaml_documents.hpp"

namespace guardian::config {
namespace {

using namespace detail;
using namespace std::chrono_literals;
using std::chrono::days;

constexpr std::uint64_t kKiB = 1ull << 10;
constexpr std::uint64_t kMiB = 1ull << 20;
constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();

constexpr std::array<Choice<SyncMode>, 2> kSyncModes{
    {{"full", SyncMode::full}, {"normal", SyncMode::normal}}};

constexpr std::array<Choice<FullPolicy>, 2> kFullPolicies{
    {{"drop_oldest", FullPolicy::drop_oldest}, {"reject_new", FullPolicy::reject_new}}};

// ─────────────────────────── uplink values ───────────────────────────

enum class BrokerScheme : std::uint8_t { tcp, ssl };

struct BrokerAddress {
  std::string uri;
  BrokerScheme scheme;
};

constexpr std::array<Choice<MqttVersion>, 3> kMqttVersions{
    {{"auto", MqttVersion::automatic}, {"5", MqttVersion::v5}, {"3.1.1", MqttVersion::v3_1_1}}};
constexpr std::array<Choice<PayloadFormat>, 2> kPayloadFormats{
    {{"v1", PayloadFormat::v1}, {"v2", PayloadFormat::v2}}};
constexpr std::array<Choice<Compression>, 2> kCompressions{
    {{"none", Compression::none}, {"deflate", Compression::deflate}}};
constexpr std::array<Choice<BrokerScheme>, 2> kBrokerSchemes{
    {{"tcp", BrokerScheme::tcp}, {"ssl", BrokerScheme::ssl}}};

/// tcp://host:port or ssl://host:port (host may be a bracketed IPv6 address). Paho also knows
/// mqtt://, ws:// … (FIELD-NOTES); the gateway supports these two, so the others are refused here
/// rather than at connect time.
ScalarParser<BrokerAddress> broker_address() {
  static constexpr std::string_view kExpected =
      "a broker address tcp://host:port or ssl://host:port";
  return {std::string(kExpected), [](std::string_view text) -> result<BrokerAddress> {
            const auto separator = text.find("://");
            if (separator == std::string_view::npos)
              return expected_but_got(kExpected, text, "it must start with tcp:// or ssl://");
            const std::string_view scheme_text = text.substr(0, separator);
            const std::string_view authority = text.substr(separator + 3);
            const auto* scheme =
                std::find_if(kBrokerSchemes.begin(), kBrokerSchemes.end(),
                             [&](const auto& c) { return c.spelling == scheme_text; });
            if (scheme == kBrokerSchemes.end())
              return expected_but_got(
                  kExpected, text,
                  "the scheme must be tcp:// or ssl://, not " + std::string(scheme_text) + "://");
            const auto colon = authority.rfind(':');
            const bool bracketed = authority.starts_with('[');
            if (colon == std::string_view::npos || (bracketed && authority[colon - 1] != ']'))
              return expected_but_got(kExpected, text,
                                      "the port is required, e.g. :1883 (:8883 for ssl)");
            const std::string_view host = authority.substr(0, colon);
            if (host.empty() || host == "[]" || host.find('/') != std::string_view::npos)
              return expected_but_got(kExpected, text, "the host is missing or malformed");
            const auto port = integer_between(1, 65535).parse(authority.substr(colon + 1));
            if (!port)
              return expected_but_got(kExpected, text, "the port must be between 1 and 65535");
            return BrokerAddress{std::string(text), scheme->value};
          }};
}

/// The topic prefix is the start of every topic Guardian publishes to: MQTT 3.1.1 §4.7.1
/// forbids the wildcards + and # in a topic name, and {device_id} is the only placeholder.
ScalarParser<std::string> topic_prefix() {
  static constexpr std::string_view kExpected =
      "an MQTT topic prefix without + or #, e.g. guardian/v1/{device_id}/";
  return {std::string(kExpected), [](std::string_view text) -> result<std::string> {
            if (text.empty()) return expected_but_got(kExpected, text);
            if (text.find_first_of("+#") != std::string_view::npos)
              return expected_but_got(kExpected, text,
                                      "+ and # are subscription wildcards and cannot appear in "
                                      "a topic Guardian publishes to");
            std::string rest(text);
            for (auto pos = rest.find("{device_id}"); pos != std::string::npos;
                 pos = rest.find("{device_id}"))
              rest.erase(pos, std::string_view("{device_id}").size());
            if (rest.find_first_of("{}") != std::string::npos)
              return expected_but_got(kExpected, text, "{device_id} is the only placeholder");
            return std::string(text);
          }};
}

/// A Unix socket path must fit sockaddr_un::sun_path with its terminating NUL (unix(7)).
ScalarParser<std::filesystem::path> socket_path() {
  constexpr std::size_t kMaxLength = sizeof(sockaddr_un::sun_path) - 1;
  static const std::string kExpected =
      "a socket path of at most " + std::to_string(kMaxLength) + " bytes";
  return {kExpected, [](std::string_view text) -> result<std::filesystem::path> {
            if (text.empty() || text.size() > kMaxLength)
              return expected_but_got(kExpected, text,
                                      "Unix sockets cannot have longer paths (unix(7))");
            return std::filesystem::path(text);
          }};
}

// ───────────────────────────── sections ─────────────────────────────

void read_device_section(ObjectReader& r, SiteConfig& config) {
  if (auto id = r.required("id", identifier())) config.device_id = std::move(*id);
}

void read_queue(ObjectReader& r, QueueConfig& queue) {
  r.read("path", queue.path, file_path());
  r.read("commit_window", queue.commit_window, duration_in(0ms, 10s));
  const bool max_bytes_valid =
      r.read("max_bytes", queue.max_bytes, size_in(kMiB, kNoLimit)) || !r.has("max_bytes");
  r.read("max_age", queue.max_age, duration_in(1min, days{3650}));
  r.read("synchronous", queue.synchronous, one_of(kSyncModes));
  if (r.read("max_pending_bytes", queue.max_pending_bytes, size_in(64 * kKiB, kNoLimit)) &&
      max_bytes_valid && queue.max_pending_bytes > queue.max_bytes)
    r.error("max_pending_bytes", "must not exceed max_bytes (" + format_size(queue.max_bytes) +
                                     "): it is the part of the queue still held in memory");
  r.read("when_full", queue.when_full, one_of(kFullPolicies));
  r.read("source_quota", queue.source_quota_percent, percent_in(1, 100));
  r.read("gap_interval", queue.gap_interval, duration_in(1s, 1h));
}

/// `broker`: the uplink's broker URI, unless it was written and invalid.
void read_tls(ObjectReader& r, TlsFilesConfig& tls, const std::optional<std::string>& broker) {
  if (auto ca = r.required("ca_file", file_path())) tls.ca_file = std::move(*ca);
  r.read("cert_file", tls.cert_file, file_path());
  r.read("key_file", tls.key_file, file_path());
  r.read("server_name", tls.server_name, text());
  // What the running link would refuse (file_tls_link.cpp), said now: Paho checks the broker's
  // certificate against the host in the URI, and nothing else.
  if (broker && !tls.server_name.empty() && tls.server_name != broker_uri_host(*broker))
    r.error("server_name", "\"" + tls.server_name + "\" differs from the host of " + *broker +
                               ": the MQTT client checks the broker's certificate against the host "
                               "in the broker URI, so write that name there (ssl://" +
                               tls.server_name + ":PORT; add it to /etc/hosts if it has no DNS "
                               "entry) and drop server_name");
  if (r.has("cert_file") != r.has("key_file"))
    r.error(r.has("cert_file") ? "cert_file" : "key_file",
            "cert_file and key_file go together: set both for a client certificate, or neither");
}

/// `secure_link`: the top-level secure_link section is present, so the broker is reached
/// through the TPM tunnel (which brings its own TLS).
void read_uplink(ObjectReader& r, UplinkConfig& uplink, bool secure_link) {
  // The default broker is tcp://. A written but invalid broker leaves the scheme unknown, and
  // the rules that depend on it are skipped rather than judged against a guess.
  BrokerScheme scheme = BrokerScheme::tcp;
  bool scheme_known = true;
  if (auto broker = r.optional("broker", broker_address())) {
    uplink.broker = std::move(broker->uri);
    scheme = broker->scheme;
  } else {
    scheme_known = !r.has("broker");
  }
  r.read("client_id", uplink.client_id, text());
  r.read("topic_prefix", uplink.topic_prefix, topic_prefix());
  // MQTT 3.1.1 §3.1.2.10: Keep Alive is a 16-bit number of seconds. 0 would turn off the
  // broker's detection of a dead gateway, so it is not offered.
  r.read("keepalive", uplink.keepalive, duration_in(1s, 65535s, 1s));
  r.read("max_inflight", uplink.max_inflight, integer_in<int>(1, 65535));
  r.read("max_readings_per_message", uplink.max_readings_per_message, integer_in<int>(1, 100000));
  // The floor leaves room for the envelope and a few readings; the ceiling is MQTT's own limit
  // (a remaining length below 256 MiB).
  r.read("max_message_bytes", uplink.max_message_bytes, size_in(kKiB, 255 * kMiB));
  r.read("mqtt_version", uplink.mqtt_version, one_of(kMqttVersions));
  r.read("refuse_after_disconnects", uplink.refuse_after_disconnects, integer_in<int>(1, 100));
  r.read("payload", uplink.payload, one_of(kPayloadFormats));
  if (r.read("compression", uplink.compression, one_of(kCompressions)) &&
      uplink.compression != Compression::none && uplink.payload == PayloadFormat::v1)
    r.error("compression", "compression applies to the compact payload: add 'payload: v2' (v1 "
                           "consumers expect plain JSON)");
  r.read("health_interval", uplink.health_interval, duration_in(1s, days{1}));
  read_delay_range(r, "reconnect", uplink.reconnect_min, uplink.reconnect_max, 100ms, days{1});
  r.read("live_share", uplink.live_share_percent, percent_in(0, 100));
  const bool has_tls = r.section("tls", Presence::optional,
                                 [&](ObjectReader& t) { read_tls(t, uplink.tls.emplace(), scheme_known ? std::optional(uplink.broker) : std::nullopt);
                                 });
  r.read("username", uplink.username, text());
  r.read("password_file", uplink.password_file, file_path());
  r.forbid("password",
           "secrets are never written in this file: put the password alone in a file readable "
           "only by the guardian user and give its path as password_file");

  if (secure_link) {
    if (scheme_known && scheme == BrokerScheme::tcp)
      r.error("broker", "the secure link reaches the broker over mutual TLS: use ssl://host:port");
    if (has_tls)
      r.error("tls", "the secure link brings its own TLS (a TPM key, an attested certificate): "
                     "remove this section and put the broker's CA in secure_link.broker.ca_file");
  } else if (scheme_known && scheme == BrokerScheme::ssl && !has_tls) {
    r.error("broker", "an ssl:// broker needs a 'tls' section with at least ca_file (or a "
                      "secure_link section)");
  }
  if (!secure_link && scheme_known && scheme == BrokerScheme::tcp && has_tls)
    r.error("tls",
            "tls only applies to an ssl:// broker: change the broker to "
            "ssl://host:port or remove this section");
  // MQTT 3.1.1 §3.1.2.9: a password can only be sent together with a user name.
  if (r.has("password_file") && !r.has("username"))
    r.error("password_file", "a password needs a username: add 'username'");
}

void read_control(ObjectReader& r, ControlConfig& control) {
  r.read("socket", control.socket, socket_path());
}

/// The adapter kinds Guardian knows, as an explicit build-time list (STYLE.md: no
/// self-registration). Adding a kind is one line here and its reader in sections.hpp.
using AdapterReader = AdapterConfig (*)(ObjectReader&, std::string, SiteNames&);
constexpr std::array<Choice<AdapterReader>, 5> kAdapterKinds{
    {{"modbus", &read_modbus_adapter},
     {"serial", &read_serial_adapter},
     {"tcp-client", &read_tcp_client_adapter},
     {"tcp-server", &read_tcp_server_adapter},
     {"udp", &read_udp_adapter}}};

void read_adapter(ObjectReader& r, SiteConfig& config, SiteNames& names) {
  std::string name;
  if (auto written = r.required("name", identifier())) {
    name = std::move(*written);
    r.require_unique("name", name, names.adapters, "adapter name", "adapter names must be unique");
  }
  const auto read_kind = r.required("type", one_of(kAdapterKinds));
  if (!read_kind) {
    // Without a known type its keys cannot be judged; one error about the type is enough.
    r.skip_remaining_keys();
    return;
  }
  config.adapters.push_back((*read_kind)(r, std::move(name), names));
}

/// profiles_path as written, relative entries taken from the directory of the site file (so that
/// a file and its profiles can be copied together), or the default search path.
std::vector<std::filesystem::path> read_profiles_path(ObjectReader& r,
                                                      const std::string& file_name) {
  auto written = r.scalars("profiles_path", file_path());
  if (!written) return default_profiles_path();
  const auto base = std::filesystem::path(file_name).parent_path();
  for (auto& dir : *written)
    if (dir.is_relative()) dir = base / dir;
  return std::move(*written);
}

SiteConfig read_site(const YAML::Node& root, const std::string& file_name,
                     Diagnostics& diagnostics, std::vector<ConfigError>& profile_errors) {
  SiteConfig config;
  ObjectReader r(root, root.Mark(), "", diagnostics);
  r.section("device", Presence::required, [&](ObjectReader& s) { read_device_section(s, config); });
  r.section("queue", Presence::optional, [&](ObjectReader& s) { read_queue(s, config.queue); });
  const bool secure_link = r.has("secure_link");
  r.section("uplink", Presence::optional,
            [&](ObjectReader& s) { read_uplink(s, config.uplink, secure_link); });
  r.section("secure_link", Presence::optional,
            [&](ObjectReader& s) { read_secure_link(s, config.uplink.secure_link.emplace()); });
  if (secure_link && !r.has("uplink"))
    r.error("secure_link", "the secure link needs the broker it leads to: add an uplink section "
                           "with broker: ssl://host:port");
  r.section("control", Presence::optional,
            [&](ObjectReader& s) { read_control(s, config.control); });
  config.profiles_path = read_profiles_path(r, file_name);
  ProfileLibrary profiles(config.profiles_path);
  SiteNames names;
  names.profiles = &profiles;
  r.list("adapters", Items::may_be_empty,
         [&](ObjectReader& item) { read_adapter(item, config, names); });
  // After the adapters: a rule must name a source and a point they declare.
  read_processing(r, config);
  read_traces(r, config);
  r.finish();
  profile_errors = profiles.take_errors();
  if (config.uplink.client_id.empty()) config.uplink.client_id = config.device_id;
  if (config.uplink.secure_link) config.uplink.secure_link->device_id = config.device_id;
  return config;
}

/// The site file's errors in file order, then those found in the profiles it refers to.
LoadResult finish_load(Diagnostics& diagnostics, std::optional<SiteConfig> config,
                       std::vector<ConfigError> profile_errors = {}) {
  LoadResult result;
  result.errors = diagnostics.take_in_file_order();
  result.warnings = diagnostics.take_warnings_in_file_order();
  for (auto& e : profile_errors) (e.warning ? result.warnings : result.errors).push_back(std::move(e));
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

}  // namespace

namespace detail {

void read_delay_range(ObjectReader& parent, std::string_view key, Duration& min, Duration& max,
                      Duration lowest, Duration highest) {
  parent.section(key, Presence::optional, [&](ObjectReader& r) {
    const auto written_min = r.optional("min", duration_in(lowest, highest));
    const auto written_max = r.optional("max", duration_in(lowest, highest));
    if ((r.has("min") && !written_min) || (r.has("max") && !written_max)) return;
    const Duration new_min = written_min.value_or(min);
    const Duration new_max = written_max.value_or(max);
    if (new_min > new_max) {
      r.error(written_max ? "max" : "min",
              "min (" + format_duration(new_min) + ") is greater than max (" +
                  format_duration(new_max) + (written_max ? ")" : ", the default)"));
      return;
    }
    min = new_min;
    max = new_max;
  });
}

}  // namespace detail

result<Duration> parse_duration(std::string_view text) {
  return duration_in(Duration{0}, std::chrono::days{365}).parse(text);
}

std::vector<std::filesystem::path> default_profiles_path() {
  return {"/etc/guardian/profiles", GUARDIAN_SHIPPED_PROFILES_DIR};
}

std::string ConfigError::to_string() const {
  const std::string kind = warning ? ": warning: " : ": error: ";
  if (line == 0) return file + kind + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + kind + message;
}

LoadResult parse_site_config(std::string_view yaml_text, const std::string& file_name) {
  Diagnostics diagnostics(file_name);
  const std::string text(yaml_text);
  const auto root = read_single_document(text, diagnostics);
  if (!root) return finish_load(diagnostics, std::nullopt);
  std::vector<ConfigError> profile_errors;
  SiteConfig config = read_site(*root, file_name, diagnostics, profile_errors);
  config.source_file = file_name;
  // The secure link measures the file the gateway was started with.
  if (config.uplink.secure_link) config.uplink.secure_link->config_file = file_name;
  return finish_load(diagnostics, std::move(config), std::move(profile_errors));
}

LoadResult load_site_config(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    Diagnostics diagnostics(path.string());
    diagnostics.error("cannot read the configuration: it is a directory, not a file");
    return finish_load(diagnostics, std::nullopt);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    Diagnostics diagnostics(path.string());
    diagnostics.error("cannot open the configuration: " + std::string(std::strerror(error)));
    return finish_load(diagnostics, std::nullopt);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_site_config(text.str(), path.string());
}

}  // namespace guardian::config
