#include "certificate_file.hpp"

#include <mbedtls/error.h>
#include <mbedtls/x509_crt.h>

#include <array>
#include <chrono>

namespace guardian::secure_link {
namespace {

// boost::system::error_category (1.74) has a protected non-virtual destructor by design:
// categories are never deleted through a base pointer.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class MbedtlsCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "mbedtls"; }
  std::string message(int value) const override {
    std::array<char, 160> text{};
#pragma GCC diagnostic pop
    mbedtls_strerror(value, text.data(), text.size());
    return text.data();
  }
};

// RAII owner of a parsed certificate chain.
class Certificate {
 public:
  Certificate() { mbedtls_x509_crt_init(&crt_); }
  ~Certificate() { mbedtls_x509_crt_free(&crt_); }
  Certificate(const Certificate&) = delete;
  Certificate& operator=(const Certificate&) = delete;
  mbedtls_x509_crt* get() noexcept { return &crt_; }

 private:
  mbedtls_x509_crt crt_;
};

Timestamp to_timestamp(const mbedtls_x509_time& t) {
  using namespace std::chrono;
  const sys_days day = year{t.year} / month{static_cast<unsigned>(t.mon)} /
                       std::chrono::day{static_cast<unsigned>(t.day)};
  return time_point_cast<milliseconds>(day + hours{t.hour} + minutes{t.min} + seconds{t.sec});
}

}  // namespace

const boost::system::error_category& mbedtls_category() noexcept {
  static const MbedtlsCategory instance;
  return instance;
}

result<CertificateSummary> read_certificate(const std::filesystem::path& path) {
  Certificate crt;
  const int rc = mbedtls_x509_crt_parse_file(crt.get(), path.c_str());
  // A positive value counts certificates of a bundle that failed to parse; the first one parsed.
  if (rc < 0)
    return make_error(boost::system::error_code(rc, mbedtls_category()),
                      "certificate " + path.string() + " cannot be read as PEM or DER X.509");
  std::array<char, 512> subject{};
  const int n = mbedtls_x509_dn_gets(subject.data(), subject.size(), &crt.get()->subject);
  CertificateSummary summary;
  if (n > 0) summary.subject.assign(subject.data(), static_cast<std::size_t>(n));
  summary.not_after = to_timestamp(crt.get()->valid_to);
  return summary;
}

}  // namespace guardian::secure_link
