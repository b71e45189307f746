#pragma once
/// \file
/// Typed configuration of the stream adapters (`type: serial | tcp-client | tcp-server | udp`):
/// a transport, a declarative codec that turns the bytes of proprietary equipment into readings
/// and records, and an optional poll. Every key is documented in docs/configuration.md
/// ("Stream adapters") with worked examples in docs/stream-adapters.md.
///
/// Plain data only (no YAML, no Asio): the codecs and their fuzz targets, built with clang 14,
/// include this header.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "guardian/config/serial_port_config.hpp"

namespace guardian::config {

// ───────────────────────────── fields ─────────────────────────────

/// What a field's raw content becomes.
enum class FieldType : std::uint8_t {
  integer,      ///< int64 (text: decimal; binary: the raw integer)
  real,         ///< double
  boolean,      ///< text: true/false/1/0/on/off/yes/no; binary: raw != 0
  string,       ///< text as is; binary bytes up to the first NUL
  enumeration,  ///< an integer mapped to a label through FieldSpec::enum_map
  bytes,        ///< binary only: the raw bytes as upper-case hex
};

/// Raw encodings of a field inside a binary frame.
enum class RawType : std::uint8_t { u8, u16, u32, u64, i8, i16, i32, i64, f32, f64, bytes, string };

enum class Endian : std::uint8_t { big, little };

/// One value taken out of a line, frame or JSON object. Exactly one of the locating members is
/// used, depending on the codec (group/column/key for lines, at/raw for binary, pointer for JSON).
struct FieldSpec {
  std::string name;  ///< The point name northbound.
  FieldType type = FieldType::real;

  // ── where (lines)
  std::string group;  ///< regex: name of the named group (default: the field name)
  int column = -1;    ///< csv: 0-based column
  std::string key;    ///< key=value: the key (default: the field name)
  // ── where (binary)
  std::size_t at = 0;  ///< byte position from the start of the frame (sync included)
  RawType raw = RawType::u8;
  Endian endian = Endian::big;
  std::size_t length = 0;  ///< bytes/string: number of bytes
  int bit = -1;            ///< bitfield: lowest bit (0 = least significant); -1 = whole value
  int bits = 1;            ///< bitfield width
  // ── where (JSON)
  std::string pointer;                      ///< RFC 6901 JSON pointer as written
  std::vector<std::string> pointer_tokens;  ///< unescaped reference tokens

  // ── value
  double scale = 1.0;  ///< numeric: value = raw * scale + offset
  double offset = 0.0;
  std::string unit;
  std::map<std::int64_t, std::string> enum_map;  ///< enumeration: raw → label

  /// Size in bytes of the raw encoding (binary fields).
  [[nodiscard]] std::size_t raw_size() const noexcept {
    switch (raw) {
      case RawType::u8:
      case RawType::i8:
        return 1;
      case RawType::u16:
      case RawType::i16:
        return 2;
      case RawType::u32:
      case RawType::i32:
      case RawType::f32:
        return 4;
      case RawType::u64:
      case RawType::i64:
      case RawType::f64:
        return 8;
      case RawType::bytes:
      case RawType::string:
        return length;
    }
    return 1;
  }
};

// ───────────────────────────── checksums ─────────────────────────────

/// Checksum algorithms by catalogue name (parameters in docs/stream-adapters.md and
/// adapters/stream/include/guardian/adapters/stream/checksum.hpp).
enum class ChecksumKind : std::uint8_t {
  crc16_modbus,       ///< CRC-16/MODBUS
  crc16_ccitt_false,  ///< CRC-16/CCITT-FALSE (= CRC-16/IBM-3740)
  crc16_xmodem,       ///< CRC-16/XMODEM
  crc16_kermit,       ///< CRC-16/KERMIT
  crc8,               ///< CRC-8/SMBUS
  crc8_maxim,         ///< CRC-8/MAXIM-DOW (Dallas 1-Wire)
  xor8,               ///< XOR of the bytes
  sum8,               ///< sum of the bytes modulo 256
};

/// Width of a checksum in bytes (1 or 2).
[[nodiscard]] constexpr std::size_t checksum_size(ChecksumKind k) noexcept {
  switch (k) {
    case ChecksumKind::crc16_modbus:
    case ChecksumKind::crc16_ccitt_false:
    case ChecksumKind::crc16_xmodem:
    case ChecksumKind::crc16_kermit:
      return 2;
    default:
      return 1;
  }
}

/// A checksum carried in a binary frame. Positions may be negative: −n is n bytes before the end
/// of the frame (so they work for frames of any length).
struct BinaryChecksum {
  ChecksumKind kind = ChecksumKind::crc16_modbus;
  std::int64_t from = 0;  ///< first byte covered
  std::int64_t to = 0;    ///< one past the last byte covered
  std::int64_t at = 0;    ///< where the checksum is stored
  Endian endian = Endian::big;
};

/// A checksum written in a text line as hex digits after `end` (NMEA 0183: XOR between '$' and
/// '*', then two hex digits).
struct LineChecksum {
  ChecksumKind kind = ChecksumKind::xor8;
  std::string start = "$";  ///< covered bytes start after the first occurrence of this
  std::string end = "*";    ///< … and stop before the last occurrence of this; hex digits follow
};

// ───────────────────────────── codecs ─────────────────────────────

enum class LineSyntax : std::uint8_t { regex, key_value, csv };

/// One kind of line or frame the equipment sends; the first that matches decodes it.
struct MessageSpec {
  std::string name;     ///< the record type, and the message name in counters
  bool record = false;  ///< true: the fields go out together as one record; false: as readings
  std::vector<FieldSpec> fields;

  // ── lines
  LineSyntax syntax = LineSyntax::regex;
  std::string regex;            ///< as written, with (?<name>…) groups
  std::string prefix;           ///< key-value/csv: only lines starting with this
  std::string separator = ",";  ///< csv: column separator; key-value: pair separator
  std::string assign = "=";     ///< key-value: between key and value
  std::optional<LineChecksum> checksum;

  // ── binary: frames whose bytes at `when_at` equal `when_bytes` (empty = every frame)
  std::size_t when_at = 0;
  std::vector<std::uint8_t> when_bytes;

  // ── JSON: objects whose `when_pointer` equals `when_equals` (as text); empty = every object
  std::string when_pointer;
  std::vector<std::string> when_tokens;
  std::string when_equals;
};

/// Line-based ASCII: the stream is cut at `delimiter`, each line matched against the messages.
struct LineCodecConfig {
  std::string delimiter = "\n";  ///< bytes that end a line (after escape processing)
  std::size_t max_line = 1024;   ///< longer lines are dropped and counted as overlong
  bool trim = true;              ///< strip a trailing '\r' and surrounding spaces
  std::vector<MessageSpec> messages;
};

/// What a binary length field counts.
enum class LengthCounts : std::uint8_t {
  frame,    ///< the whole frame
  payload,  ///< the bytes after the length field, without the checksum at the end
  from,     ///< the bytes from LengthField::from to the end of the frame
};

struct LengthField {
  std::size_t at = 0;
  std::size_t size = 1;  ///< 1, 2 or 4 bytes
  Endian endian = Endian::big;
  LengthCounts counts = LengthCounts::payload;
  std::size_t from = 0;     ///< for counts == from
  std::int64_t adjust = 0;  ///< added to the computed frame length
};

/// Binary frames: sync bytes, a fixed length or a length field, an optional checksum.
struct BinaryCodecConfig {
  std::vector<std::uint8_t> sync;           ///< may be empty (then every byte may start a frame)
  std::optional<std::size_t> frame_length;  ///< fixed length …
  std::optional<LengthField> length;        ///< … or a length field (exactly one of the two)
  std::size_t max_frame = 256;              ///< longest frame accepted; bounds the buffer
  std::optional<BinaryChecksum> checksum;
  std::vector<MessageSpec> messages;
};

/// One JSON object per line.
struct JsonCodecConfig {
  std::string delimiter = "\n";
  std::size_t max_line = 4096;
  std::vector<MessageSpec> messages;
};

enum class CodecKind : std::uint8_t { lines, binary, json_lines };

struct CodecConfig {
  CodecKind kind = CodecKind::lines;
  LineCodecConfig lines;
  BinaryCodecConfig binary;
  JsonCodecConfig json;
};

/// The messages of whichever codec `c` is.
[[nodiscard]] inline const std::vector<MessageSpec>& messages_of(const CodecConfig& c) noexcept {
  switch (c.kind) {
    case CodecKind::binary:
      return c.binary.messages;
    case CodecKind::json_lines:
      return c.json.messages;
    case CodecKind::lines:
      break;
  }
  return c.lines.messages;
}

// ───────────────────────────── transports ─────────────────────────────

enum class StreamTransport : std::uint8_t { serial, tcp_client, tcp_server, udp };

/// A peer of a TCP server or UDP receiver and the source its data belongs to.
struct StreamPeer {
  std::string address;  ///< IPv4 or IPv6 address, as written
  std::string source;
};

/// A query sent at an interval; the reply is the next message decoded (of `reply`, if set).
struct StreamPoll {
  std::vector<std::uint8_t> query;  ///< after escape/hex processing
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds timeout{1000};
  std::string reply;  ///< message name expected as the answer; empty = any
};

/// One `type: serial | tcp-client | tcp-server | udp` adapter.
struct StreamAdapterConfig {
  std::string name;
  StreamTransport transport = StreamTransport::serial;
  SerialPortSettings serial;  ///< serial only
  std::string host;  ///< tcp-client: peer; tcp-server/udp: address to bind
  std::uint16_t port = 0;
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds backoff_min{1000};
  std::chrono::milliseconds backoff_max{60000};
  std::size_t max_connections = 8;  ///< tcp-server

  std::string source;             ///< serial/tcp-client: the source name (default: name)
  std::vector<StreamPeer> peers;  ///< tcp-server/udp: peer address → source
  std::string source_field;       ///< tcp-server/udp: a string field that names the source
  std::size_t max_sources = 32;   ///< bound on sources named by source_field

  std::chrono::milliseconds silence_timeout{0};  ///< 0 = off; else comm_fail after this silence
  std::optional<StreamPoll> poll;
  CodecConfig codec;
  std::string profile;  ///< "name@version" of the profile the codec came from, if any
  std::string file;  ///< where the adapter was declared, for run-time messages
  int line = 0;      ///< 1-based
  int column = 0;    ///< 1-based
};

}  // namespace guardian::config
