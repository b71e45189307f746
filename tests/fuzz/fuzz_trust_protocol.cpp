// libFuzzer target for the trust protocol's text from the other side of a connection: request
// lines as the trust service reads them, response lines as a device reads them, and the
// enrollment record an operator imports. Besides "no crash, no exception, no sanitizer report",
// it checks that whatever parses survives a round trip through its writer. The first byte picks
// the parser. Built with clang 14 by tests/fuzz/CMakeLists.txt.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "guardian/secure_link/enrollment.hpp"
#include "guardian/secure_link/trust_protocol.hpp"

namespace {

using namespace guardian::secure_link;

void check(bool ok) {
  if (!ok) std::abort();  // libFuzzer reports it as a crash, with the input
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view line(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      if (auto request = parse_trust_request(line)) {
        auto again = parse_trust_request(to_line(request.value()));
        check(static_cast<bool>(again));
        check(again.value().index() == request.value().index());
      }
      break;
    case 1:
      if (auto ok = parse_trust_response(line, "fuzz")) {
        if (auto nonce = nonce_response_from(ok.value()))
          check(static_cast<bool>(nonce_response_from(to_json(nonce.value()))));
        if (auto attest = attest_response_from(ok.value()))
          check(static_cast<bool>(attest_response_from(to_json(attest.value()))));
      }
      break;
    case 2: {
      const auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (auto record = enrollment_from_json(json))
        check(static_cast<bool>(enrollment_from_json(enrollment_to_json(record.value()))));
      break;
    }
  }
  return 0;
}
