#pragma once
/// \file
/// The checksums equipment protocols put in their frames, by catalogue name. Parameters follow
/// the Rocksoft model as catalogued by Greg Cook's "Catalogue of parametrised CRC algorithms"
/// (poly, init, refin/refout, xorout) and each carries its check value, the CRC of the ASCII
/// bytes "123456789":
///
/// | name               | width | poly   | init   | reflected | xorout | check  |
/// |--------------------|-------|--------|--------|-----------|--------|--------|
/// | crc16-modbus       | 16    | 0x8005 | 0xFFFF | yes       | 0x0000 | 0x4B37 |
/// | crc16-ccitt-false  | 16    | 0x1021 | 0xFFFF | no        | 0x0000 | 0x29B1 |
/// | crc16-xmodem       | 16    | 0x1021 | 0x0000 | no        | 0x0000 | 0x31C3 |
/// | crc16-kermit       | 16    | 0x1021 | 0x0000 | yes       | 0x0000 | 0x2189 |
/// | crc8 (SMBUS)       | 8     | 0x07   | 0x00   | no        | 0x00   | 0xF4   |
/// | crc8-maxim         | 8     | 0x31   | 0x00   | yes       | 0x00   | 0xA1   |
/// | xor                | 8     | XOR of every byte                      | 0x31   |
/// | sum8               | 8     | sum of every byte modulo 256           | 0xDD   |
///
/// Pure functions, no allocation (but checksums_matching, for diagnostics); clang-14 compatible
/// (the fuzz targets build them).

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "guardian/config/stream_config.hpp"

namespace guardian::adapters::stream {

/// The checksum of `bytes` with algorithm `kind` (8-bit results in the low byte).
[[nodiscard]] std::uint16_t compute_checksum(config::ChecksumKind kind,
                                             std::span<const std::uint8_t> bytes) noexcept;

/// The catalogue name of `kind`, as written in the configuration ("crc16-modbus" …).
[[nodiscard]] std::string_view checksum_name(config::ChecksumKind kind) noexcept;

/// Every algorithm of the catalogue, in the table's order.
inline constexpr std::array<config::ChecksumKind, 8> kChecksumCatalogue{
    config::ChecksumKind::crc16_modbus, config::ChecksumKind::crc16_ccitt_false,
    config::ChecksumKind::crc16_xmodem, config::ChecksumKind::crc16_kermit,
    config::ChecksumKind::crc8,         config::ChecksumKind::crc8_maxim,
    config::ChecksumKind::xor8,         config::ChecksumKind::sum8};

/// The catalogue algorithms of the same width as `configured`, other than it, whose checksum of
/// `covered` is `received` ("these frames pass with crc16-xmodem").
[[nodiscard]] std::vector<std::string> checksums_matching(config::ChecksumKind configured,
                                                          std::span<const std::uint8_t> covered,
                                                          std::uint16_t received);

}  // namespace guardian::adapters::stream
