#pragma once
/// \file
/// The typed site configuration: what `/etc/guardian/guardian.yaml` becomes once it has been
/// validated completely. Every other component receives these structs, never YAML.
/// Every key is documented in docs/configuration.md.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "guardian/config/processing_config.hpp"
#include "guardian/config/trace_config.hpp"
#include "guardian/config/secure_link_config.hpp"
#include "guardian/config/serial_port_config.hpp"
#include "guardian/config/stream_config.hpp"

namespace guardian::config {

using Duration = std::chrono::milliseconds;

/// Where something was declared, so run-time errors can point back at the file.
struct SourceLocation {
  std::string file;
  int line = 0;    ///< 1-based
  int column = 0;  ///< 1-based
};

// ───────────────────────────── Modbus ─────────────────────────────

/// The four Modbus data tables.
enum class RegisterTable : std::uint8_t { coil, discrete_input, holding_register, input_register };

/// Value types a point can decode to.
enum class DataType : std::uint8_t {
  boolean,  ///< a coil / discrete input, or a register != 0
  bit,      ///< one bit of a 16-bit register (ModbusPoint::bit)
  int16, uint16, int32, uint32, int64, uint64, float32, float64,
  string,   ///< ModbusPoint::length registers of 2 characters each, NULs and trailing spaces trimmed
};

/// Byte/word order of multi-register values, named by the position of the bytes of a big-endian
/// value as they appear on the wire. For 64-bit values the same transformation applies to all four
/// registers: ABCD = ABCDEFGH (big endian), DCBA = HGFEDCBA (little endian), BADC = BADCFEHG
/// (bytes swapped in each register), CDAB = GHEFCDAB (register order reversed).
enum class WordOrder : std::uint8_t { ABCD, DCBA, BADC, CDAB };

/// One value read from a Modbus unit.
struct ModbusPoint {
  std::string name;
  RegisterTable table = RegisterTable::holding_register;
  std::uint16_t address = 0;      ///< Protocol (0-based) address, after applying address_base.
  DataType type = DataType::uint16;
  WordOrder order = WordOrder::ABCD;
  int bit = 0;                    ///< For DataType::bit: 0 (LSB) … 15.
  std::uint16_t length = 0;       ///< For DataType::string: number of registers.
  double scale = 1.0;             ///< value = raw * scale + offset (numeric types only)
  double offset = 0.0;
  std::string unit;
  std::map<std::int64_t, std::string> enum_map;  ///< Raw value → label; empty = none.
  bool writable = false;          ///< Commands may write it (coil and holding tables only).
  bool readback = false;          ///< Read the point again after each write and compare.
  std::optional<double> write_min;  ///< A write below this (engineering units) is refused.
  std::optional<double> write_max;  ///< A write above this (engineering units) is refused.
  SourceLocation where;

  /// Number of 16-bit registers (or bits, for coil/discrete tables) this point spans.
  [[nodiscard]] std::uint16_t width() const noexcept {
    switch (type) {
      case DataType::boolean:
      case DataType::bit:
      case DataType::int16:
      case DataType::uint16: return 1;
      case DataType::int32:
      case DataType::uint32:
      case DataType::float32: return 2;
      case DataType::int64:
      case DataType::uint64:
      case DataType::float64: return 4;
      case DataType::string: return length;
    }
    return 1;
  }
};

/// How the reads of one unit are coalesced into requests (MBAP §6.1–§6.4 limits by default).
struct ModbusCoalescing {
  std::uint16_t max_registers = 125;  ///< per FC03/FC04 request; lower for devices that refuse long reads
  std::uint16_t max_bits = 2000;      ///< per FC01/FC02 request
  std::uint16_t register_gap = 8;     ///< unused registers read to save a request
  std::uint16_t bit_gap = 64;         ///< unused bits read to save a request
};

/// One unit (slave id) on a Modbus connection: one `source` in the northbound data.
struct ModbusDevice {
  std::string name;               ///< Source name, unique across the site.
  int unit_id = 1;                ///< 0–247 (255 is common for Modbus TCP gateways)
  Duration poll_interval{1000};
  Duration timeout{500};          ///< Per-request response timeout for this unit.
  int retries = 1;                ///< Extra attempts before a poll counts as failed.
  bool write_multiple = false;    ///< Write with FC15/FC16 only (devices without FC05/FC06).
  ModbusCoalescing coalescing;
  std::string profile;            ///< "name@version" of the profile the points came from, if any.
  std::vector<ModbusPoint> points;
  SourceLocation where;
};

struct ModbusTcpEndpoint {
  std::string host;
  std::uint16_t port = 502;
};

enum class ModbusTransport : std::uint8_t { tcp, rtu, rtu_over_tcp };

/// A Modbus connection (a TCP peer or an RS-485 bus) and the units behind it. One scheduler and
/// one worker thread per connection.
struct ModbusAdapterConfig {
  std::string name;
  ModbusTransport transport = ModbusTransport::tcp;
  ModbusTcpEndpoint tcp;          ///< for tcp and rtu_over_tcp
  SerialPortSettings serial;      ///< for rtu
  Duration connect_timeout{3000};
  Duration pacing{0};             ///< Silent time between two requests on this connection.
  Duration backoff_min{1000};     ///< First retry delay for a failed unit or connection.
  Duration backoff_max{60000};    ///< Retry delay cap.
  std::vector<ModbusDevice> devices;
  SourceLocation where;
};

/// Every adapter kind Guardian knows, as an explicit list (STYLE.md: no self-registration).
using AdapterConfig = std::variant<ModbusAdapterConfig, StreamAdapterConfig>;

// ───────────────────────────── Gateway ─────────────────────────────

enum class SyncMode : std::uint8_t { full, normal };

/// What the queue gives up when it is full (docs/store-and-forward.md).
enum class FullPolicy : std::uint8_t {
  drop_oldest,  ///< keep the newest data: the oldest of the lowest priority goes first
  reject_new,   ///< keep the oldest data: new data that does not fit is refused
};

struct QueueConfig {
  std::filesystem::path path = "/var/lib/guardian/queue.db";
  Duration commit_window{10};     ///< Longest a reading waits in memory before its group commit.
  std::uint64_t max_bytes = 256ull << 20;        ///< Bound on the message bodies stored.
  Duration max_age{std::chrono::hours{24 * 7}};  ///< Older messages are dropped (and reported).
  SyncMode synchronous = SyncMode::full;
  std::uint64_t max_pending_bytes = 2ull << 20;  ///< Un-committed bytes in memory before back-pressure (memory bound under overload).
  FullPolicy when_full = FullPolicy::drop_oldest;
  /// The share of max_bytes one source may hold (1–100): beyond it that source loses its own data
  /// first, so a chatty device cannot evict the others.
  int source_quota_percent = 100;
  /// Dropped data is reported on `gaps` at most this often per source and reason (merged).
  Duration gap_interval{std::chrono::seconds{10}};
};

/// TLS with certificate files (development / sites without a TPM). The secure link replaces it.
struct TlsFilesConfig {
  std::filesystem::path ca_file;
  std::filesystem::path cert_file;  ///< optional: client certificate for mTLS
  std::filesystem::path key_file;   ///< optional: must be mode 0600
  std::string server_name;          ///< optional: expected broker name if not the URI host
};

/// The host part of a broker URI "scheme://host:port" ("[v6]" without its brackets); empty if
/// there is none. What the MQTT client checks the broker's certificate against.
[[nodiscard]] std::string broker_uri_host(std::string_view uri);

/// Which MQTT the uplink speaks.
enum class MqttVersion : std::uint8_t {
  automatic,  ///< MQTT 5, and 3.1.1 from the first broker that refuses 5 (the default)
  v5,         ///< MQTT 5 only
  v3_1_1,     ///< MQTT 3.1.1 only (no reason codes, no packet size from the broker)
};

/// How telemetry is encoded (docs/telemetry.md): v1 names every reading; v2 is compact, with
/// names in a retained schema message per source.
enum class PayloadFormat : std::uint8_t { v1, v2 };
/// Compression of every published document (v2 only).
enum class Compression : std::uint8_t { none, deflate };

struct UplinkConfig {
  std::string broker = "tcp://127.0.0.1:1883";  ///< tcp://host:port or ssl://host:port
  std::string client_id;                        ///< default: the device id
  std::string topic_prefix = "guardian/v1/{device_id}/";
  Duration keepalive{30000};
  int max_inflight = 100;
  int max_readings_per_message = 500;
  /// No message payload is larger: bodies are split at encode time, and a broker's smaller
  /// Maximum Packet Size (MQTT 5 CONNACK) lowers it.
  std::uint64_t max_message_bytes = 128 * 1024;
  MqttVersion mqtt_version = MqttVersion::automatic;
  PayloadFormat payload = PayloadFormat::v1;
  Compression compression = Compression::none;
  /// A message the connection drops right after, each time it is sent alone, this many times in
  /// a row, counts as refused by the broker (MQTT 3.1.1 has no other way to say so).
  int refuse_after_disconnects = 3;
  Duration health_interval{30000};
  Duration reconnect_min{1000};
  Duration reconnect_max{60000};
  /// After an outage, the share of publishes (0–100 %) that go to data committed since the
  /// connection came back while the backlog drains; the rest go to the backlog, oldest first.
  int live_share_percent = 50;
  std::optional<TlsFilesConfig> tls;
  std::string username;                         ///< optional
  std::filesystem::path password_file;          ///< optional; secrets never inline
  /// The top-level `secure_link:` section: set when the broker is reached through the TPM
  /// tunnel (it describes how the uplink reaches its broker, so it travels with the uplink).
  std::optional<SecureLinkConfig> secure_link;
};

struct ControlConfig {
  std::filesystem::path socket = "/run/guardian/control.sock";
};

/// The whole validated site configuration.
struct SiteConfig {
  std::filesystem::path source_file;
  std::string device_id;
  QueueConfig queue;
  UplinkConfig uplink;
  ControlConfig control;
  /// Directories searched for device profiles, in order (`profiles_path`).
  std::vector<std::filesystem::path> profiles_path;
  std::vector<AdapterConfig> adapters;
  /// Edge processing rules, at most one per (source, point).
  std::vector<PointProcessing> processing;
  /// Trace captures (shot traces), names unique per source.
  std::vector<TraceConfig> traces;

  /// uplink.topic_prefix with {device_id} substituted, always ending in '/'.
  [[nodiscard]] std::string topic_prefix() const;
};

}  // namespace guardian::config
