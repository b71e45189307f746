#include "guardian/adapters/stream/checksum.hpp"

namespace guardian::adapters::stream {
namespace {

using config::ChecksumKind;

// Bit-at-a-time CRCs: frames are at most 64 KiB and usually a few dozen bytes, so tables would
// buy nothing measurable and cost 512 bytes per algorithm. T is the register width (8 or 16 bits).

/// Reflected (LSB-first) CRC: `poly` is given bit-reversed (0x8005 → 0xA001).
template <class T>
T crc_reflected(std::span<const std::uint8_t> bytes, T poly_reflected, T init) noexcept {
  T crc = init;
  for (const std::uint8_t b : bytes) {
    crc = static_cast<T>(crc ^ b);
    for (int i = 0; i < 8; ++i)
      crc = static_cast<T>((crc & 1U) != 0 ? (crc >> 1) ^ poly_reflected : crc >> 1);
  }
  return crc;
}

/// MSB-first CRC: each byte enters at the top of the register.
template <class T>
T crc_msb_first(std::span<const std::uint8_t> bytes, T poly, T init) noexcept {
  constexpr unsigned kWidth = 8 * sizeof(T);
  constexpr T kTop = static_cast<T>(1U << (kWidth - 1));
  T crc = init;
  for (const std::uint8_t b : bytes) {
    crc = static_cast<T>(crc ^ (static_cast<unsigned>(b) << (kWidth - 8)));
    for (int i = 0; i < 8; ++i)
      crc = static_cast<T>((crc & kTop) != 0 ? (crc << 1) ^ poly : crc << 1);
  }
  return crc;
}

}  // namespace

std::uint16_t compute_checksum(ChecksumKind kind, std::span<const std::uint8_t> bytes) noexcept {
  switch (kind) {
    case ChecksumKind::crc16_modbus:  // poly 0x8005 reflected = 0xA001
      return crc_reflected<std::uint16_t>(bytes, 0xA001, 0xFFFF);
    case ChecksumKind::crc16_ccitt_false:
      return crc_msb_first<std::uint16_t>(bytes, 0x1021, 0xFFFF);
    case ChecksumKind::crc16_xmodem:
      return crc_msb_first<std::uint16_t>(bytes, 0x1021, 0x0000);
    case ChecksumKind::crc16_kermit:  // poly 0x1021 reflected = 0x8408
      return crc_reflected<std::uint16_t>(bytes, 0x8408, 0x0000);
    case ChecksumKind::crc8:
      return crc_msb_first<std::uint8_t>(bytes, 0x07, 0x00);
    case ChecksumKind::crc8_maxim:  // poly 0x31 reflected = 0x8C
      return crc_reflected<std::uint8_t>(bytes, 0x8C, 0x00);
    case ChecksumKind::xor8: {
      std::uint8_t x = 0;
      for (const std::uint8_t b : bytes) x = static_cast<std::uint8_t>(x ^ b);
      return x;
    }
    case ChecksumKind::sum8: {
      std::uint8_t s = 0;
      for (const std::uint8_t b : bytes) s = static_cast<std::uint8_t>(s + b);
      return s;
    }
  }
  return 0;
}

std::string_view checksum_name(ChecksumKind kind) noexcept {
  switch (kind) {
    case ChecksumKind::crc16_modbus:
      return "crc16-modbus";
    case ChecksumKind::crc16_ccitt_false:
      return "crc16-ccitt-false";
    case ChecksumKind::crc16_xmodem:
      return "crc16-xmodem";
    case ChecksumKind::crc16_kermit:
      return "crc16-kermit";
    case ChecksumKind::crc8:
      return "crc8";
    case ChecksumKind::crc8_maxim:
      return "crc8-maxim";
    case ChecksumKind::xor8:
      return "xor";
    case ChecksumKind::sum8:
      return "sum8";
  }
  return "?";
}

std::vector<std::string> checksums_matching(config::ChecksumKind configured,
                                            std::span<const std::uint8_t> covered,
                                            std::uint16_t received) {
  std::vector<std::string> out;
  for (const auto kind : kChecksumCatalogue)
    if (kind != configured && config::checksum_size(kind) == config::checksum_size(configured) &&
        compute_checksum(kind, covered) == received)
      out.emplace_back(checksum_name(kind));
  return out;
}

}  // namespace guardian::adapters::stream
