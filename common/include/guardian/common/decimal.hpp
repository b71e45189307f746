#pragma once
/// \file
/// Scaling raw values as the decimals they mean. In binary floating point 2317 × 0.1 is
/// 231.70000000000002; a device that documents "0.1 V per count" means 231.7. scaled_decimal()
/// rounds the product to the decimal places its operands carry (those of `raw` plus those of
/// `scale`, or those of `offset` if more), which yields the double nearest that decimal — whose
/// shortest form (std::to_chars, the JSON writer) is what the device meant.

namespace guardian {

/// Digits after the decimal point in the shortest form of `v` that reads back as `v`
/// ("0.1" → 1, "1e-05" → 5, "230" → 0); 99 for a value that needs more than 17 of them.
[[nodiscard]] int decimal_places(double v) noexcept;

/// raw × scale + offset, rounded to the decimal places of its operands (see the file comment).
/// Unrounded when those places exceed 15 or the rounding would lose integer digits (|value| ×
/// 10^places ≥ 2^53); not finite when the product is not.
[[nodiscard]] double scaled_decimal(double raw, double scale, double offset) noexcept;

}  // namespace guardian
