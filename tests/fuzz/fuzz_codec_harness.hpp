#pragma once
// What every stream-codec fuzz target does with its input: the first byte picks how the rest is
// cut into pieces (1 to 256 bytes, as a serial port or a socket might deliver it), each piece is
// fed, and after every piece the codec must hold no more than its bound. Then the end of a
// datagram and a link reset. Any crash, sanitizer report or broken bound is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "guardian/adapters/stream/codec.hpp"

namespace guardian::fuzz {

inline void exercise(const adapters::stream::CodecFactory& factory, std::size_t bound,
                     const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const std::size_t piece = std::size_t{data[0]} + 1;
  std::span<const std::uint8_t> rest(data + 1, size - 1);
  auto codec = factory.make();
  // Odd first bytes also explain checksum failures, as `guardian probe` does.
  if ((data[0] & 1) != 0) codec->explain_mismatches();
  std::vector<adapters::stream::Decoded> out;
  const Timestamp ts{};
  while (!rest.empty()) {
    const auto n = piece < rest.size() ? piece : rest.size();
    codec->feed(rest.first(n), ts, out);
    rest = rest.subspan(n);
    if (codec->buffered() > bound) std::abort();  // memory per adapter must stay bounded
    if (out.size() > 1024) out.clear();
    if (codec->take_mismatches().size() > adapters::stream::Codec::kMaxMismatches) std::abort();
  }
  codec->finish(ts, out);
  if (codec->buffered() != 0) std::abort();
  for (const auto& d : out)
    if (d.message == nullptr || d.fields.size() != d.message->fields.size()) std::abort();
  codec->reset();
}

}  // namespace guardian::fuzz
