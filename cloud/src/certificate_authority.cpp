#include "guardian/cloud/certificate_authority.hpp"

#include "guardian/cloud/evidence.hpp"

#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/sha1.h>
#include <mbedtls/x509_crt.h>

#include <array>
#include <cstring>
#include <vector>
#include <cstdio>
#include <ctime>

namespace guardian::cloud {
namespace {

using secure_link::Bytes;
using secure_link::mbedtls_error;
using secure_link::PkKey;
using secure_link::RandomGenerator;

// RFC 5280 §4.2.1.12: id-kp-clientAuth inside an ExtKeyUsageSyntax SEQUENCE.
constexpr std::array<unsigned char, 12> kExtKeyUsageClientAuth{
    0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02};
constexpr char kOidExtKeyUsage[] = "\x55\x1d\x25";  // 2.5.29.37
constexpr char kOidCrlNumber[] = "\x55\x1d\x14";    // 2.5.29.20

std::tm utc(Timestamp t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::seconds>(t));
  std::tm out{};
  ::gmtime_r(&seconds, &out);
  return out;
}

// "YYYYMMDDhhmmss" for mbedtls_x509write_crt_set_validity.
std::string x509write_time(Timestamp t) {
  const std::tm tm = utc(t);
  char text[64];
  std::snprintf(text, sizeof text, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return text;
}

// mbedTLS's ASN.1 writer fills a buffer from its end: each element is written before the one
// that precedes it in the encoding. DerWriter keeps the write position, the total length, and
// the first error, so a sequence of writes reads as a list.
class DerWriter {
 public:
  explicit DerWriter(std::vector<unsigned char>& buffer)
      : start_(buffer.data()), p_(buffer.data() + buffer.size()) {}

  template <class F>
  DerWriter& put(F&& write) {
    if (rc_ < 0) return *this;
    const int n = write(&p_, start_);
    if (n < 0)
      rc_ = n;
    else
      length_ += static_cast<std::size_t>(n);
    return *this;
  }
  /// Wraps everything written since `mark` (a length() value) in a header with `tag`.
  DerWriter& wrap_since(std::size_t mark, unsigned char tag) {
    const std::size_t inner = length_ - mark;
    put([&](unsigned char** p, unsigned char* s) { return mbedtls_asn1_write_len(p, s, inner); });
    return put([&](unsigned char** p, unsigned char* s) { return mbedtls_asn1_write_tag(p, s, tag); });
  }
  DerWriter& sequence_since(std::size_t mark) {
    return wrap_since(mark, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
  }
  [[nodiscard]] std::size_t length() const noexcept { return length_; }
  [[nodiscard]] int rc() const noexcept { return rc_; }
  [[nodiscard]] const unsigned char* data() const noexcept { return p_; }

 private:
  unsigned char* start_;
  unsigned char* p_;
  std::size_t length_ = 0;
  int rc_ = 0;
};

// RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050.
void write_time(DerWriter& w, Timestamp t) {
  const std::tm tm = utc(t);
  const int year = tm.tm_year + 1900;
  char text[64];
  if (year < 2050) {
    std::snprintf(text, sizeof text, "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    w.put([&](unsigned char** p, unsigned char* s) {
      return mbedtls_asn1_write_tagged_string(p, s, MBEDTLS_ASN1_UTC_TIME, text, std::strlen(text));
    });
    return;
  }
  std::snprintf(text, sizeof text, "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  w.put([&](unsigned char** p, unsigned char* s) {
    return mbedtls_asn1_write_tagged_string(p, s, MBEDTLS_ASN1_GENERALIZED_TIME, text, std::strlen(text));
  });
}

// AlgorithmIdentifier of the signature: RFC 5758 §3.2 — ECDSA has no parameters; RFC 4055
// §5 — RSA PKCS#1 v1.5 has NULL parameters.
void write_signature_algorithm(DerWriter& w, const char* oid, std::size_t oid_len, bool rsa) {
  const auto mark = w.length();
  if (rsa) w.put([](unsigned char** p, unsigned char* s) { return mbedtls_asn1_write_null(p, s); });
  w.put([&](unsigned char** p, unsigned char* s) { return mbedtls_asn1_write_oid(p, s, oid, oid_len); });
  w.sequence_since(mark);
}

// Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, extnValue OCTET STRING } (not critical);
// `value` is the DER inside the OCTET STRING.
void write_extension(DerWriter& w, const char* oid, std::size_t oid_len,
                     const std::vector<unsigned char>& value) {
  const auto mark = w.length();
  w.put([&](unsigned char** p, unsigned char* s) {
    return mbedtls_asn1_write_octet_string(p, s, value.data(), value.size());
  });
  w.put([&](unsigned char** p, unsigned char* s) { return mbedtls_asn1_write_oid(p, s, oid, oid_len); });
  w.sequence_since(mark);
}

// RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's value — what
// OpenSSL's "subjectKeyIdentifier=hash" puts in a CA certificate.
result<std::array<unsigned char, 20>> key_identifier(mbedtls_pk_context* key) {
  std::array<unsigned char, 2048> buffer{};
  unsigned char* p = buffer.data() + buffer.size();
  const int len = mbedtls_pk_write_pubkey(&p, buffer.data(), key);
  if (len < 0) return mbedtls_error(len, "cannot encode the CA public key");
  std::array<unsigned char, 20> id{};
  mbedtls_sha1_ret(p, static_cast<std::size_t>(len), id.data());
  return id;
}

result<Bytes> serial_from_hex(const std::string& hex) {
  auto bytes = secure_link::from_hex(hex);
  if (!bytes) return make_error("certificate serial " + hex + " is not hexadecimal");
  return bytes;
}

}  // namespace

result<std::unique_ptr<CertificateAuthority>> CertificateAuthority::load(
    const std::filesystem::path& certificate_file, const std::filesystem::path& key_file) {
  std::unique_ptr<CertificateAuthority> ca(new CertificateAuthority());
  BOOST_OUTCOME_TRY(pem, secure_link::read_text_file(certificate_file));
  BOOST_OUTCOME_TRY(chain, secure_link::X509Chain::from_pem(pem));
  BOOST_OUTCOME_TRY(key, PkKey::from_private_file(key_file));
  if (chain->get()->ca_istrue == 0)
    return make_error(certificate_file.string() + " is not a CA certificate (basicConstraints CA:TRUE)");
  const int rc = mbedtls_pk_check_pair(&chain->get()->pk, key->get());
  if (rc != 0) return mbedtls_error(rc, key_file.string() + " is not the key of " + certificate_file.string());
  ca->ca_pem_ = std::move(pem);
  ca->ca_ = std::move(chain);
  ca->key_ = std::move(key);
  return ca;
}

result<Certificate> CertificateAuthority::issue(const CertificateRequest& request) {
  // The id becomes an X.509 subject string: one that could repeat or empty an attribute would
  // reach mbedtls_asn1_store_named_data's NULL dereference (CVE-2025-48965, unfixed in 2.28), so
  // it is checked here too, not only at enrollment (docs/security-advisories.md).
  if (!valid_device_id(request.device_id))
    return make_error("refusing to issue a certificate for the malformed device id \"" +
                      request.device_id + "\"");
  std::lock_guard lock(mutex_);
  BOOST_OUTCOME_TRY(subject_key, PkKey::from_public_der(request.subject_public_der));

  mbedtls_x509write_cert crt;
  mbedtls_x509write_crt_init(&crt);
  struct Free {
    mbedtls_x509write_cert* c;
    ~Free() { mbedtls_x509write_crt_free(c); }
  } free_crt{&crt};
  mbedtls_mpi serial;
  mbedtls_mpi_init(&serial);
  struct FreeMpi {
    mbedtls_mpi* m;
    ~FreeMpi() { mbedtls_mpi_free(m); }
  } free_serial{&serial};

  // A random 128-bit positive serial (CA/Browser Forum practice: at least 64 random bits).
  auto serial_bytes = secure_link::random_generator().bytes(16);
  serial_bytes[0] &= 0x7f;
  serial_bytes[0] |= 0x40;  // keep 16 significant bytes, so the hex form has a stable length
  mbedtls_mpi_read_binary(&serial, serial_bytes.data(), serial_bytes.size());

  const std::string issuer = secure_link::certificate_subject(*ca_->get());
  std::string subject = "CN=" + request.device_id + ",O=Guardian device";
  if (request.software_key) subject += ",OU=software-key";

  mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&crt, subject_key->get());
  mbedtls_x509write_crt_set_issuer_key(&crt, key_->get());
  int rc = mbedtls_x509write_crt_set_serial(&crt, &serial);
  if (rc == 0) rc = mbedtls_x509write_crt_set_subject_name(&crt, subject.c_str());
  if (rc == 0) rc = mbedtls_x509write_crt_set_issuer_name(&crt, issuer.c_str());
  if (rc == 0)
    rc = mbedtls_x509write_crt_set_validity(&crt, x509write_time(request.not_before).c_str(),
                                            x509write_time(request.not_after).c_str());
  if (rc == 0) rc = mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1);
  if (rc == 0) rc = mbedtls_x509write_crt_set_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
  if (rc == 0)
    rc = mbedtls_x509write_crt_set_extension(&crt, kOidExtKeyUsage, sizeof kOidExtKeyUsage - 1, 0,
                                             kExtKeyUsageClientAuth.data(),
                                             kExtKeyUsageClientAuth.size());
  if (rc == 0) rc = mbedtls_x509write_crt_set_subject_key_identifier(&crt);
  if (rc == 0) rc = mbedtls_x509write_crt_set_authority_key_identifier(&crt);
  if (rc != 0) return mbedtls_error(rc, "cannot build the certificate for " + request.device_id);

  std::array<unsigned char, 8192> pem{};
  auto& rng = secure_link::random_generator();
  rc = mbedtls_x509write_crt_pem(&crt, pem.data(), pem.size(), RandomGenerator::callback, rng.state());
  if (rc != 0) return mbedtls_error(rc, "cannot sign the certificate for " + request.device_id);
  return Certificate{reinterpret_cast<const char*>(pem.data()), secure_link::to_hex(serial_bytes)};
}

result<std::string> CertificateAuthority::crl(const std::vector<RevokedEntry>& revoked,
                                              Timestamp this_update, Timestamp next_update,
                                              std::int64_t number) {
  std::lock_guard lock(mutex_);
  const bool rsa = mbedtls_pk_get_type(key_->get()) == MBEDTLS_PK_RSA;
  const char* oid = nullptr;
  std::size_t oid_len = 0;
  int rc = mbedtls_oid_get_oid_by_sig_alg(rsa ? MBEDTLS_PK_RSA : MBEDTLS_PK_ECDSA,
                                          MBEDTLS_MD_SHA256, &oid, &oid_len);
  if (rc != 0) return mbedtls_error(rc, "no signature algorithm for the CA key");
  BOOST_OUTCOME_TRY(aki, key_identifier(key_->get()));

  // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
  std::vector<unsigned char> aki_buffer(64);
  DerWriter aki_der(aki_buffer);
  aki_der.put([&](unsigned char** p, unsigned char* s) {
    return mbedtls_asn1_write_raw_buffer(p, s, aki.data(), aki.size());
  });
  aki_der.wrap_since(0, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0).sequence_since(0);
  std::vector<unsigned char> number_buffer(16);
  DerWriter number_der(number_buffer);
  number_der.put([&](unsigned char** p, unsigned char* s) {
    return mbedtls_asn1_write_int(p, s, static_cast<int>(number));
  });
  if (aki_der.rc() < 0 || number_der.rc() < 0) return make_error("cannot encode the CRL extensions");

  // TBSCertList (RFC 5280 §5.1), back to front.
  std::vector<unsigned char> buffer(16 * 1024 + revoked.size() * 64);
  DerWriter tbs(buffer);
  // crlExtensions [0] EXPLICIT Extensions: cRLNumber (§5.2.3) and authorityKeyIdentifier
  // (§5.2.1), both required of a conforming CRL issuer.
  write_extension(tbs, MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER,
                  MBEDTLS_OID_SIZE(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER),
                  {aki_der.data(), aki_der.data() + aki_der.length()});
  write_extension(tbs, kOidCrlNumber, sizeof kOidCrlNumber - 1,
                  {number_der.data(), number_der.data() + number_der.length()});
  tbs.sequence_since(0).wrap_since(0, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0);
  // revokedCertificates: omitted when empty (§5.1.2.6).
  if (!revoked.empty()) {
    const auto list = tbs.length();
    for (auto it = revoked.rbegin(); it != revoked.rend(); ++it) {
      const auto entry = tbs.length();
      write_time(tbs, it->revoked_at);
      BOOST_OUTCOME_TRY(serial, serial_from_hex(it->serial));
      tbs.put([&](unsigned char** p, unsigned char* s) {
        mbedtls_mpi value;
        mbedtls_mpi_init(&value);
        mbedtls_mpi_read_binary(&value, serial.data(), serial.size());
        const int n = mbedtls_asn1_write_mpi(p, s, &value);
        mbedtls_mpi_free(&value);
        return n;
      });
      tbs.sequence_since(entry);
    }
    tbs.sequence_since(list);
  }
  write_time(tbs, next_update);
  write_time(tbs, this_update);
  // issuer: the CA certificate's subject, byte for byte, so that name matching is exact.
  const auto& issuer = ca_->get()->subject_raw;
  tbs.put([&](unsigned char** p, unsigned char* s) {
    return mbedtls_asn1_write_raw_buffer(p, s, issuer.p, issuer.len);
  });
  write_signature_algorithm(tbs, oid, oid_len, rsa);
  tbs.put([](unsigned char** p, unsigned char* s) { return mbedtls_asn1_write_int(p, s, 1); });  // v2
  tbs.sequence_since(0);
  if (tbs.rc() < 0) return mbedtls_error(tbs.rc(), "cannot encode the CRL");

  const auto digest = secure_link::sha256(secure_link::ByteView(tbs.data(), tbs.length()));
  std::array<unsigned char, MBEDTLS_PK_SIGNATURE_MAX_SIZE> signature{};
  std::size_t signature_len = 0;
  auto& rng = secure_link::random_generator();
  rc = mbedtls_pk_sign(key_->get(), MBEDTLS_MD_SHA256, digest.data(), digest.size(),
                       signature.data(), &signature_len, RandomGenerator::callback, rng.state());
  if (rc != 0) return mbedtls_error(rc, "cannot sign the CRL");

  // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }.
  std::vector<unsigned char> out(tbs.length() + 512);
  DerWriter crl(out);
  crl.put([&](unsigned char** p, unsigned char* s) {
    return mbedtls_asn1_write_bitstring(p, s, signature.data(), signature_len * 8);
  });
  write_signature_algorithm(crl, oid, oid_len, rsa);
  crl.put([&](unsigned char** p, unsigned char* s) {
    return mbedtls_asn1_write_raw_buffer(p, s, tbs.data(), tbs.length());
  });
  crl.sequence_since(0);
  if (crl.rc() < 0) return mbedtls_error(crl.rc(), "cannot encode the CRL");
  return secure_link::der_to_pem(secure_link::ByteView(crl.data(), crl.length()), "X509 CRL");
}

}  // namespace guardian::cloud
