#pragma once
/// \file
/// The mbedTLS boundary shared by the device (tunnel, attestation client, software identity) and
/// the trust service: RAII owners of mbedTLS contexts, mbedTLS error values translated into
/// `Error` (keeping the original value), SHA-256, a seeded random generator, and the encodings
/// the trust protocol uses (hex, base64, PEM).

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <boost/system/error_code.hpp>

#include "guardian/common/reading.hpp"
#include "guardian/common/result.hpp"

namespace guardian::secure_link {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using Sha256Digest = std::array<std::uint8_t, 32>;

/// The error category of mbedTLS's negative error values; message() is mbedtls_strerror().
[[nodiscard]] const boost::system::error_category& mbedtls_category() noexcept;

/// An Error that keeps the mbedTLS value `rc` and says what was being done.
[[nodiscard]] Error mbedtls_error(int rc, std::string what);

/// SHA-256 of `data`.
[[nodiscard]] Sha256Digest sha256(ByteView data);
/// SHA-256 of a string's bytes.
[[nodiscard]] Sha256Digest sha256(std::string_view data);
/// SHA-256 of a whole file, read in chunks. Errors name the file and keep errno.
[[nodiscard]] result<Sha256Digest> sha256_file(const std::filesystem::path& path);

/// Lower-case hexadecimal.
[[nodiscard]] std::string to_hex(ByteView data);
/// Parses hexadecimal (either case, even length); nullopt-like error when malformed.
[[nodiscard]] result<Bytes> from_hex(std::string_view text);
/// RFC 4648 base64 with padding.
[[nodiscard]] std::string to_base64(ByteView data);
[[nodiscard]] result<Bytes> from_base64(std::string_view text);

/// Reads a whole file (certificates, keys, records). Errors keep errno and name the file.
[[nodiscard]] result<std::string> read_text_file(const std::filesystem::path& path);
/// A private key file that group or others can read (or replace) is not private: an error
/// "<what> <path> has mode 0644: a private key must be mode 0600 or stricter …; run: chmod 600
/// <path>", like ssh for identity files. Also an error (keeping errno) if it cannot be stat'ed.
[[nodiscard]] result<void> check_private_file(const std::filesystem::path& path,
                                              const std::string& what);
/// Writes `content` to `path` atomically (temporary file in the same directory, fsync, rename,
/// fsync of the directory) with permission `mode`, so a reader never sees half a certificate or
/// CRL, and after a power cut the file is the new one or the old one.
[[nodiscard]] result<void> write_file_atomically(const std::filesystem::path& path,
                                                 std::string_view content, unsigned mode);

/// A CTR_DRBG seeded from the platform entropy source. Thread-safe (mbedTLS is built with
/// MBEDTLS_THREADING_PTHREAD, and the DRBG locks itself); pass `callback()`/`state()` to mbedTLS.
class RandomGenerator {
 public:
  /// Throws std::runtime_error if the entropy source fails (start-up, control plane).
  RandomGenerator();
  ~RandomGenerator();
  RandomGenerator(const RandomGenerator&) = delete;
  RandomGenerator& operator=(const RandomGenerator&) = delete;

  /// `n` random bytes.
  [[nodiscard]] Bytes bytes(std::size_t n);
  /// The f_rng / p_rng pair mbedTLS functions take.
  static int callback(void* state, unsigned char* out, std::size_t len);
  [[nodiscard]] void* state() noexcept { return &drbg_; }

 private:
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
};

/// The process-wide generator (constructed on first use; thread-safe). Keys, nonces, serial
/// numbers and TLS sessions all draw from it.
[[nodiscard]] RandomGenerator& random_generator();

/// Owner of an mbedtls_pk_context (a public or private key).
class PkKey {
 public:
  PkKey() { mbedtls_pk_init(&pk_); }
  ~PkKey() { mbedtls_pk_free(&pk_); }
  PkKey(const PkKey&) = delete;
  PkKey& operator=(const PkKey&) = delete;
  [[nodiscard]] mbedtls_pk_context* get() noexcept { return &pk_; }
  [[nodiscard]] const mbedtls_pk_context* get() const noexcept { return &pk_; }

  /// A public key from DER SubjectPublicKeyInfo.
  [[nodiscard]] static result<std::unique_ptr<PkKey>> from_public_der(ByteView der);
  /// A private key from a PEM or DER file (unencrypted).
  [[nodiscard]] static result<std::unique_ptr<PkKey>> from_private_file(
      const std::filesystem::path& path);
  /// DER SubjectPublicKeyInfo of this key.
  [[nodiscard]] result<Bytes> public_der() const;

 private:
  mbedtls_pk_context pk_;
};

/// Owner of a parsed certificate chain.
class X509Chain {
 public:
  X509Chain() { mbedtls_x509_crt_init(&crt_); }
  ~X509Chain() { mbedtls_x509_crt_free(&crt_); }
  X509Chain(const X509Chain&) = delete;
  X509Chain& operator=(const X509Chain&) = delete;
  [[nodiscard]] mbedtls_x509_crt* get() noexcept { return &crt_; }
  [[nodiscard]] const mbedtls_x509_crt* get() const noexcept { return &crt_; }

  /// Parses every certificate of a PEM or DER file.
  [[nodiscard]] static result<std::unique_ptr<X509Chain>> from_file(
      const std::filesystem::path& path);
  /// Parses PEM text (one or several certificates).
  [[nodiscard]] static result<std::unique_ptr<X509Chain>> from_pem(std::string_view pem);

 private:
  mbedtls_x509_crt crt_;
};

/// The first certificate's subject ("CN=store-042, O=Guardian").
[[nodiscard]] std::string certificate_subject(const mbedtls_x509_crt& crt);
/// The value of the subject's CN, or "" when there is none.
[[nodiscard]] std::string certificate_common_name(const mbedtls_x509_crt& crt);
/// The validity bounds of a certificate.
[[nodiscard]] Timestamp certificate_not_before(const mbedtls_x509_crt& crt);
[[nodiscard]] Timestamp certificate_not_after(const mbedtls_x509_crt& crt);
/// The serial number in lower-case hex.
[[nodiscard]] std::string certificate_serial_hex(const mbedtls_x509_crt& crt);

/// PEM armour ("-----BEGIN <label>-----") around DER.
[[nodiscard]] std::string der_to_pem(ByteView der, std::string_view label);

}  // namespace guardian::secure_link
