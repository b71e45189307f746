// Binary frames: sync bytes, a fixed length or a length field, an optional checksum over a
// declared byte range, then the message whose discriminator bytes match. Resynchronisation: when
// a candidate frame is impossible (bad length) or fails its checksum, one byte is skipped and
// the search for the sync starts again, so a frame that follows garbage or a damaged frame is
// still found.

#include <algorithm>
#include <stdexcept>

#include "codecs.hpp"
#include "field_value.hpp"
#include "guardian/adapters/stream/checksum.hpp"

namespace guardian::adapters::stream::detail {
namespace {

using config::BinaryCodecConfig;
using config::LengthCounts;

std::int64_t resolve(std::int64_t position, std::size_t length) {
  return position < 0 ? static_cast<std::int64_t>(length) + position : position;
}

std::uint64_t read_length(std::span<const std::uint8_t> bytes, config::Endian endian) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i)
    v = (v << 8) | (endian == config::Endian::big ? bytes[i] : bytes[bytes.size() - 1 - i]);
  return v;
}

class BinaryCodec final : public Codec {
 public:
  explicit BinaryCodec(const BinaryCodecConfig& config) : config_(config) {
    buffer_.reserve(config_.max_frame);
    header_ = config_.sync.size();
    if (config_.length) header_ = std::max(header_, config_.length->at + config_.length->size);
  }

  void feed(std::span<const std::uint8_t> bytes, Timestamp ts, std::vector<Decoded>& out) override {
    // Never hold more than one longest frame: append what fits, extract, repeat.
    while (!bytes.empty()) {
      const std::size_t take = std::min(bytes.size(), config_.max_frame - buffer_.size());
      buffer_.insert(buffer_.end(), bytes.begin(),
                     bytes.begin() + static_cast<std::ptrdiff_t>(take));
      bytes = bytes.subspan(take);
      extract(ts, out);
    }
  }

  void finish(Timestamp, std::vector<Decoded>&) override { drop_partial(); }
  void reset() override { drop_partial(); }
  [[nodiscard]] std::size_t buffered() const noexcept override { return buffer_.size(); }

 private:
  void drop_partial() {
    if (!buffer_.empty()) ++counters_.truncated;
    buffer_.clear();
  }

  void skip(std::size_t n) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(n));
  }

  /// Skips garbage up to the next sync (or a possible start of one at the end). False when the
  /// buffer holds no candidate frame start yet.
  bool find_sync() {
    const auto& sync = config_.sync;
    if (sync.empty()) return !buffer_.empty();
    const auto it = std::search(buffer_.begin(), buffer_.end(), sync.begin(), sync.end());
    if (it != buffer_.end()) {
      const auto garbage = static_cast<std::size_t>(it - buffer_.begin());
      counters_.garbage_bytes += garbage;
      skip(garbage);
      return true;
    }
    // Keep the longest tail that is a prefix of the sync: the rest of it may still arrive.
    std::size_t keep = std::min(sync.size() - 1, buffer_.size());
    while (keep > 0 && !std::equal(buffer_.end() - static_cast<std::ptrdiff_t>(keep), buffer_.end(),
                                   sync.begin()))
      --keep;
    counters_.garbage_bytes += buffer_.size() - keep;
    skip(buffer_.size() - keep);
    return false;
  }

  /// The frame length announced by the bytes at the buffer start (which hold the header).
  [[nodiscard]] std::int64_t frame_length() const {
    if (config_.frame_length) return static_cast<std::int64_t>(*config_.frame_length);
    const auto& l = *config_.length;
    const auto value = static_cast<std::int64_t>(
        read_length(std::span<const std::uint8_t>(buffer_).subspan(l.at, l.size), l.endian));
    std::int64_t total = value + l.adjust;
    switch (l.counts) {
      case LengthCounts::frame:
        break;
      case LengthCounts::payload:
        total += static_cast<std::int64_t>(l.at + l.size);
        if (config_.checksum)
          total += static_cast<std::int64_t>(config::checksum_size(config_.checksum->kind));
        break;
      case LengthCounts::from:
        total += static_cast<std::int64_t>(l.from);
        break;
    }
    return total;
  }

  /// The frame must hold its own header and its checksum.
  [[nodiscard]] bool plausible(std::int64_t length) const {
    if (length < static_cast<std::int64_t>(std::max<std::size_t>(header_, 1)) ||
        length > static_cast<std::int64_t>(config_.max_frame))
      return false;
    if (!config_.checksum) return true;
    const auto& c = *config_.checksum;
    const auto n = static_cast<std::size_t>(length);
    const auto from = resolve(c.from, n), to = resolve(c.to, n), at = resolve(c.at, n);
    const auto size = static_cast<std::int64_t>(config::checksum_size(c.kind));
    return from >= 0 && from < to && to <= length && at >= 0 && at + size <= length;
  }

  [[nodiscard]] bool checksum_ok(std::span<const std::uint8_t> frame) const {
    if (!config_.checksum) return true;
    const auto& c = *config_.checksum;
    const auto n = frame.size();
    const auto from = static_cast<std::size_t>(resolve(c.from, n));
    const auto to = static_cast<std::size_t>(resolve(c.to, n));
    const auto at = static_cast<std::size_t>(resolve(c.at, n));
    const auto size = config::checksum_size(c.kind);
    const auto computed = compute_checksum(c.kind, frame.subspan(from, to - from));
    return read_length(frame.subspan(at, size), c.endian) == computed;
  }

  [[nodiscard]] ChecksumMismatch explain(std::span<const std::uint8_t> frame) const {
    const auto& c = *config_.checksum;
    const auto n = frame.size();
    const auto from = static_cast<std::size_t>(resolve(c.from, n));
    const auto to = static_cast<std::size_t>(resolve(c.to, n));
    const auto at = static_cast<std::size_t>(resolve(c.at, n));
    const auto stored = frame.subspan(at, config::checksum_size(c.kind));
    const auto covered = frame.subspan(from, to - from);
    ChecksumMismatch m;
    m.kind = c.kind;
    m.computed = compute_checksum(c.kind, covered);
    m.received = static_cast<std::uint16_t>(read_length(stored, c.endian));
    // Every catalogue checksum of this width, read in either byte order, except the one declared;
    // an order that is not the algorithm's usual one (low byte first for CRC-16/MODBUS and
    // CRC-16/KERMIT, high byte first for the others) is named.
    for (const auto order : {config::Endian::big, config::Endian::little}) {
      if (stored.size() == 1 && order == config::Endian::little) break;
      const auto value = static_cast<std::uint16_t>(read_length(stored, order));
      for (const auto kind : kChecksumCatalogue) {
        if (config::checksum_size(kind) != stored.size() || (kind == c.kind && order == c.endian) ||
            compute_checksum(kind, covered) != value)
          continue;
        std::string name(checksum_name(kind));
        const bool low_first = kind == config::ChecksumKind::crc16_modbus ||
                               kind == config::ChecksumKind::crc16_kermit;
        if (stored.size() == 2 && (order == config::Endian::little) != low_first)
          name += order == config::Endian::little ? " with endian: little" : " with endian: big";
        m.would_pass.push_back(std::move(name));
      }
    }
    return m;
  }

  void extract(Timestamp ts, std::vector<Decoded>& out) {
    while (find_sync()) {
      if (buffer_.size() < header_) return;
      const std::int64_t length = frame_length();
      if (!plausible(length)) {
        ++counters_.bad_length;
        ++counters_.garbage_bytes;
        skip(1);
        continue;
      }
      const auto n = static_cast<std::size_t>(length);
      if (buffer_.size() < n) return;
      const std::span<const std::uint8_t> frame(buffer_.data(), n);
      if (!checksum_ok(frame)) {
        // Perhaps a sync pattern inside garbage or a damaged frame: look again one byte on.
        ++counters_.bad_checksum;
        if (explaining()) note_mismatch(explain(frame));
        ++counters_.garbage_bytes;
        skip(1);
        continue;
      }
      decode(frame, ts, out);
      skip(n);
    }
  }

  void decode(std::span<const std::uint8_t> frame, Timestamp ts, std::vector<Decoded>& out) {
    for (const auto& m : config_.messages) {
      const auto& when = m.when_bytes;
      if (!when.empty() && (m.when_at + when.size() > frame.size() ||
                            !std::equal(when.begin(), when.end(),
                                        frame.begin() + static_cast<std::ptrdiff_t>(m.when_at))))
        continue;
      Decoded decoded;
      decoded.message = &m;
      decoded.fields.reserve(m.fields.size());
      for (const auto& f : m.fields) {
        decoded.fields.push_back(make_reading(f, decode_binary_field(f, frame), ts));
        counters_.decode_errors += decoded.fields.back().quality == Quality::bad;
      }
      ++counters_.messages;
      out.push_back(std::move(decoded));
      return;
    }
    ++counters_.unmatched;
  }

  const BinaryCodecConfig& config_;
  std::vector<std::uint8_t> buffer_;
  std::size_t header_ = 0;  // bytes needed before the frame length is known
};

}  // namespace

void check_binary_config(const BinaryCodecConfig& c) {
  if (c.max_frame == 0) throw std::invalid_argument("max_frame is 0");
  if (c.frame_length.has_value() == c.length.has_value())
    throw std::invalid_argument("a binary codec needs exactly one of frame_length and length");
  if (c.frame_length && *c.frame_length > c.max_frame)
    throw std::invalid_argument("frame_length exceeds max_frame");
  if (c.sync.size() >= c.max_frame) throw std::invalid_argument("the sync fills the frame");
  if (c.length &&
      (c.length->size == 0 || c.length->size > 4 || c.length->at + c.length->size > c.max_frame))
    throw std::invalid_argument("the length field does not fit in max_frame");
  if (c.messages.empty()) throw std::invalid_argument("a binary codec needs a message");
}

std::unique_ptr<Codec> make_binary_codec(const BinaryCodecConfig& config) {
  return std::make_unique<BinaryCodec>(config);
}

}  // namespace guardian::adapters::stream::detail
