#include "guardian/secure_link/trust_protocol.hpp"

#include <array>
#include <string>
#include <utility>

namespace guardian::secure_link {
namespace {

constexpr std::array<std::pair<TrustRefusal, std::string_view>, 9> kSpellings{{
    {TrustRefusal::malformed_request, "malformed_request"},
    {TrustRefusal::unknown_device, "unknown_device"},
    {TrustRefusal::revoked, "revoked"},
    {TrustRefusal::bad_nonce, "bad_nonce"},
    {TrustRefusal::bad_signature, "bad_signature"},
    {TrustRefusal::pcr_mismatch, "pcr_mismatch"},
    {TrustRefusal::measurement_refused, "measurement_refused"},
    {TrustRefusal::software_key_refused, "software_key_refused"},
    {TrustRefusal::unavailable, "unavailable"},
}};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class TrustCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "trust"; }
  std::string message(int value) const override {
    return std::string(to_string(static_cast<TrustRefusal>(value)));
  }
};
#pragma GCC diagnostic pop

}  // namespace

std::string_view to_string(TrustRefusal refusal) noexcept {
  for (const auto& [value, spelling] : kSpellings)
    if (value == refusal) return spelling;
  return "unavailable";
}

std::optional<TrustRefusal> trust_refusal_from(std::string_view text) noexcept {
  for (const auto& [value, spelling] : kSpellings)
    if (spelling == text) return value;
  return std::nullopt;
}

const boost::system::error_category& trust_category() noexcept {
  static const TrustCategory instance;
  return instance;
}

boost::system::error_code make_error_code(TrustRefusal refusal) noexcept {
  return {static_cast<int>(refusal), trust_category()};
}

}  // namespace guardian::secure_link
