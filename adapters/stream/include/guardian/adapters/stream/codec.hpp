#pragma once
/// \file
/// Declarative codecs: bytes from any transport in, decoded messages (one line, frame or JSON
/// object each) out. A codec never throws on input and never holds more than its configured
/// bound (max_line / max_frame) whatever arrives; what it drops is counted in CodecCounters.
///
///   transport bytes ─▶ Codec::feed ─▶ framing (delimiter | sync+length) ─▶ checksum
///                                        │ overlong / garbage / bad_length    │ bad_checksum
///                                        ▼                                    ▼
///                                  message match (regex, key=value, csv, when) ─▶ fields
///                                        │ unmatched / invalid_json               │ decode_errors
///                                        ▼                                        ▼
///                                   (counted)                             Decoded{message, fields}
///
/// One Codec per connection (it holds that connection's partial input); a CodecFactory compiles
/// the configuration once (regexes) and makes as many as needed. Clang-14 compatible: the fuzz
/// targets in tests/fuzz/ build these sources with libFuzzer.

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "guardian/common/reading.hpp"
#include "guardian/config/stream_config.hpp"

namespace guardian::adapters::stream {

/// What one codec instance decoded and dropped, since it was made.
struct CodecCounters {
  std::uint64_t messages = 0;       ///< lines/frames/objects decoded into a message
  std::uint64_t bad_checksum = 0;   ///< complete lines/frames whose checksum did not match
  std::uint64_t overlong = 0;       ///< lines longer than max_line (dropped whole)
  std::uint64_t garbage_bytes = 0;  ///< bytes skipped while looking for the start of a frame
  std::uint64_t bad_length = 0;     ///< frames whose length field is impossible
  std::uint64_t truncated = 0;      ///< partial frames/lines lost at the end of a datagram or link
  std::uint64_t unmatched = 0;      ///< well-formed lines/frames/objects no message matched
  std::uint64_t invalid_json = 0;   ///< JSON lines that do not parse
  std::uint64_t decode_errors = 0;  ///< fields that could not be decoded (reported Quality::bad)

  /// Adds the non-zero counters to `out` under their health names (`bad_checksum`, `overlong`,
  /// `garbage_bytes`, `bad_length`, `truncated`, `unmatched_lines` / `unmatched_frames`,
  /// `invalid_json`, `decode_errors`, `messages`).
  void add_to(std::map<std::string, std::uint64_t>& out, config::CodecKind kind) const;
  /// Field-wise sum.
  CodecCounters& operator+=(const CodecCounters& o) noexcept;
};

/// A complete line or frame dropped because its checksum did not match, explained for
/// `guardian probe` (Codec::explain_mismatches).
struct ChecksumMismatch {
  std::string message;  ///< the message the line was taken for; empty for a binary frame
  config::ChecksumKind kind = config::ChecksumKind::xor8;
  std::uint16_t computed = 0;
  std::uint16_t received = 0;  ///< as read from the line or frame (the configured endianness)
  /// Catalogue checksums of the same width that would have matched ("crc16-xmodem"); for a
  /// binary frame also in the other byte order than the algorithm's usual one ("crc16-modbus with
  /// endian: big").
  std::vector<std::string> would_pass;
};

/// One decoded line, frame or object. Readings have `point` = field name, `unit`, `quality`
/// (good, or bad with `error` when the field could not be decoded) and `source_ts`; their
/// `source` is left empty for the adapter to fill.
struct Decoded {
  const config::MessageSpec* message =
      nullptr;  ///< the message that matched (owned by the factory)
  std::vector<Reading> fields;
};

/// A stateful decoder for one byte stream. Not thread-safe; one per connection.
class Codec {
 public:
  virtual ~Codec() = default;
  Codec() = default;
  Codec(const Codec&) = delete;
  Codec& operator=(const Codec&) = delete;

  /// Consumes `bytes` (any split of the stream: a frame may arrive in pieces or several at
  /// once), appending each complete message to `out` with timestamp `ts`. Never throws for any
  /// input; memory stays within the configured bound.
  virtual void feed(std::span<const std::uint8_t> bytes, Timestamp ts,
                    std::vector<Decoded>& out) = 0;
  /// The end of a self-contained unit (a UDP datagram): a last line without its delimiter is
  /// decoded; a partial frame is dropped and counted as truncated.
  virtual void finish(Timestamp ts, std::vector<Decoded>& out) = 0;
  /// Forgets partial input (the link was lost): counted as truncated if there was any.
  virtual void reset() = 0;
  /// Bytes currently held (for the memory-bound tests).
  [[nodiscard]] virtual std::size_t buffered() const noexcept = 0;
  [[nodiscard]] const CodecCounters& counters() const noexcept { return counters_; }

  /// From now on keep what explains each checksum failure (at most kMaxMismatches waiting; the
  /// counter has them all). Off by default: the daemon only counts.
  void explain_mismatches() noexcept { explain_ = true; }
  /// The explanations since the last call.
  [[nodiscard]] std::vector<ChecksumMismatch> take_mismatches() { return std::move(mismatches_); }
  static constexpr std::size_t kMaxMismatches = 64;

 protected:
  void note_mismatch(ChecksumMismatch m) {
    if (explain_ && mismatches_.size() < kMaxMismatches) mismatches_.push_back(std::move(m));
  }
  [[nodiscard]] bool explaining() const noexcept { return explain_; }

  CodecCounters counters_;

 private:
  bool explain_ = false;
  std::vector<ChecksumMismatch> mismatches_;
};

/// Compiles a codec configuration once and makes codecs from it. The factory must outlive the
/// codecs it makes (they point into its messages). Thread-safe after construction.
class CodecFactory {
 public:
  /// Throws std::invalid_argument for what the configuration loader rejects (a regex that does
  /// not compile, a field group the regex lacks …): control plane only.
  explicit CodecFactory(config::CodecConfig config);
  ~CodecFactory();
  CodecFactory(const CodecFactory&) = delete;
  CodecFactory& operator=(const CodecFactory&) = delete;

  [[nodiscard]] std::unique_ptr<Codec> make() const;
  [[nodiscard]] const config::CodecConfig& config() const noexcept;

  struct Compiled;  ///< private: per-codec compiled state

 private:
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace guardian::adapters::stream
