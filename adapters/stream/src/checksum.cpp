#include "guardian/adapters/stream/checksum.hpp"

namespace guardian::adapters::stream {
namespace {

using config::ChecksumKind;

// Bit-at-a-time CRCs: frames are at most 64 KiB and usually a few dozen bytes, so tables would
// buy nothing measurable and cost 512 bytes per algorithm.
std::uint16_t crc16_reflected(std::span<const std::uint8_t> bytes, std::uint16_t poly_reflected,
                              std::uint16_t init) noexcept {
  std::uint16_t crc = init;
  for (const std::uint8_t b : bytes) {
    crc = static_cast<std::uint16_t>(crc ^ b);
    for (int i = 0; i < 8; ++i)
      crc = static_cast<std::uint16_t>((crc & 1U) != 0 ? (crc >> 1) ^ poly_reflected : crc >> 1);
  }
  return crc;
}

std::uint16_t crc16_msb_first(std::span<const std::uint8_t> bytes, std::uint16_t poly,
                              std::uint16_t init) noexcept {
  std::uint16_t crc = init;
  for (const std::uint8_t b : bytes) {
    crc = static_cast<std::uint16_t>(crc ^ (b << 8));
    for (int i = 0; i < 8; ++i)
      crc = static_cast<std::uint16_t>((crc & 0x8000U) != 0 ? (crc << 1) ^ poly : crc << 1);
  }
  return crc;
}

std::uint8_t crc8_msb_first(std::span<const std::uint8_t> bytes, std::uint8_t poly) noexcept {
  std::uint8_t crc = 0;
  for (const std::uint8_t b : bytes) {
    crc = static_cast<std::uint8_t>(crc ^ b);
    for (int i = 0; i < 8; ++i)
      crc = static_cast<std::uint8_t>((crc & 0x80U) != 0 ? (crc << 1) ^ poly : crc << 1);
  }
  return crc;
}

std::uint8_t crc8_reflected(std::span<const std::uint8_t> bytes, std::uint8_t poly_reflected) noexcept {
  std::uint8_t crc = 0;
  for (const std::uint8_t b : bytes) {
    crc = static_cast<std::uint8_t>(crc ^ b);
    for (int i = 0; i < 8; ++i)
      crc = static_cast<std::uint8_t>((crc & 1U) != 0 ? (crc >> 1) ^ poly_reflected : crc >> 1);
  }
  return crc;
}

}  // namespace

std::uint16_t compute_checksum(ChecksumKind kind, std::span<const std::uint8_t> bytes) noexcept {
  switch (kind) {
    case ChecksumKind::crc16_modbus:  // poly 0x8005 reflected = 0xA001
      return crc16_reflected(bytes, 0xA001, 0xFFFF);
    case ChecksumKind::crc16_ccitt_false:
      return crc16_msb_first(bytes, 0x1021, 0xFFFF);
    case ChecksumKind::crc16_xmodem:
      return crc16_msb_first(bytes, 0x1021, 0x0000);
    case ChecksumKind::crc16_kermit:  // poly 0x1021 reflected = 0x8408
      return crc16_reflected(bytes, 0x8408, 0x0000);
    case ChecksumKind::crc8:
      return crc8_msb_first(bytes, 0x07);
    case ChecksumKind::crc8_maxim:  // poly 0x31 reflected = 0x8C
      return crc8_reflected(bytes, 0x8C);
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
    case ChecksumKind::crc16_modbus: return "crc16-modbus";
    case ChecksumKind::crc16_ccitt_false: return "crc16-ccitt-false";
    case ChecksumKind::crc16_xmodem: return "crc16-xmodem";
    case ChecksumKind::crc16_kermit: return "crc16-kermit";
    case ChecksumKind::crc8: return "crc8";
    case ChecksumKind::crc8_maxim: return "crc8-maxim";
    case ChecksumKind::xor8: return "xor";
    case ChecksumKind::sum8: return "sum8";
  }
  return "?";
}

}  // namespace guardian::adapters::stream
