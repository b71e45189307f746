// libFuzzer target for the compact payload's reference decoder (guardian decode): MQTT payloads
// from a broker — plain or deflated JSON, schema messages, telemetry and trace chunks — in any
// order. Built with clang 14 by tests/fuzz/CMakeLists.txt.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "guardian/gateway/compact_payload.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Several payloads in one input, separated by a 0xFF byte: a schema can precede its data.
  guardian::gateway::CompactDecoder decoder;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    const auto end = rest.find('\xff');
    const auto payload = rest.substr(0, end);
    auto decoded = decoder.decode(payload);
    // What decodes is a JSON object (a v1 document); nothing else is ever printed.
    if (decoded && decoded.value() &&
        !nlohmann::json::parse(*decoded.value(), nullptr, false).is_object())
      std::abort();
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  // The splitter takes a stored v2 body; whatever it returns fits and is not empty.
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  if (const auto parts = guardian::gateway::split_v2_body(body, 64)) {
    if (parts->empty()) std::abort();
    for (const auto& p : *parts)
      if (p.size() > 64 && parts->size() > 1) std::abort();
  }
  return 0;
}
