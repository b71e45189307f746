#pragma once
/// \file
/// The device identity: a non-exportable RSA-2048 key that signs the TLS handshake, and a
/// restricted ECC P-256 attestation key (AK) that signs quotes of the attestation PCR and
/// certifies the TLS key. Two backends behind one interface:
///   - TpmIdentity: both keys created inside a TPM 2.0 (tpm2-tss ESAPI, any TCTI) and kept as
///     persistent objects at configured handles; the private parts never leave the chip.
///   - SoftwareIdentity: key files (mode 0600) in the state directory, a PCR simulated in
///     memory. For development only: its "quotes" prove nothing, the enrollment record says so,
///     and the trust service's default policy refuses it.
///
/// Thread-safety: every method may be called from any thread. The TPM backend runs every TPM
/// command on the identity's own thread (ESAPI contexts are not thread-safe: one owner thread),
/// so callers block until their command has run.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "guardian/common/result.hpp"
#include "guardian/config/secure_link_config.hpp"
#include "guardian/secure_link/crypto.hpp"

namespace guardian::secure_link {

/// Hash algorithms a TLS 1.2 CertificateVerify may ask the signing key for.
enum class HashAlgorithm : std::uint8_t { sha256, sha384, sha512 };

/// Size of the TLS key's signatures (RSA-2048).
inline constexpr std::size_t kTlsSignatureSize = 256;

/// A structure and the signature over it: TPMS_ATTEST and TPMT_SIGNATURE, both marshalled.
struct SignedAttestation {
  Bytes attest;
  Bytes signature;
};

/// The public halves of an identity.
struct IdentityKeys {
  Bytes tls_public_der;  ///< SubjectPublicKeyInfo of the TLS key: the certificate's subject key
  Bytes tls_tpm_public;  ///< its TPM2B_PUBLIC (TPM backend; empty for software)
  Bytes ak_public_der;   ///< SubjectPublicKeyInfo of the attestation key
  Bytes ak_tpm_public;   ///< its TPM2B_PUBLIC (TPM backend; empty for software)
};

/// See the file comment.
class Identity {
 public:
  virtual ~Identity() = default;
  Identity() = default;
  Identity(const Identity&) = delete;
  Identity& operator=(const Identity&) = delete;

  [[nodiscard]] virtual config::IdentityBackend backend() const noexcept = 0;
  /// Where the keys are, for humans: "TPM at swtpm:host=…, handles 0x81000101/0x81000102".
  [[nodiscard]] virtual std::string location() const = 0;

  /// The keys if both exist; nullopt if the identity is not provisioned. An error means the
  /// TPM (or the state directory) could not be asked, or a handle holds a key that is not ours.
  [[nodiscard]] virtual result<std::optional<IdentityKeys>> find_keys() = 0;
  /// Creates whichever key is missing and returns both. Idempotent: existing keys are kept.
  [[nodiscard]] virtual result<IdentityKeys> create_keys() = 0;
  /// The attestation key certifies the TLS key (TPM2_Certify, Part 3 §18.2) with
  /// `qualifying_data`: proof that the TLS key lives, fixedTPM, in the same TPM as the AK.
  /// Software backend: an error (there is nothing to prove).
  [[nodiscard]] virtual result<SignedAttestation> certify_tls_key(ByteView qualifying_data) = 0;

  /// Signs `digest` (already hashed with `hash`) with the TLS key, RSASSA-PKCS1-v1_5
  /// (TPM2_Sign, Part 3 §20.2). Returns kTlsSignatureSize bytes.
  [[nodiscard]] virtual result<Bytes> sign(HashAlgorithm hash, ByteView digest) = 0;

  /// TPM2_PCR_Reset of `pcr` (only 16 and 23 are resettable from locality 0).
  [[nodiscard]] virtual result<void> reset_pcr(unsigned pcr) = 0;
  /// TPM2_PCR_Extend of the SHA-256 bank of `pcr` with `digest`.
  [[nodiscard]] virtual result<void> extend_pcr(unsigned pcr, const Sha256Digest& digest) = 0;
  /// The SHA-256 bank's value of `pcr`.
  [[nodiscard]] virtual result<Sha256Digest> read_pcr(unsigned pcr) = 0;
  /// TPM2_Quote (Part 3 §18.4) of the SHA-256 bank of `pcr` by the attestation key, with
  /// `nonce` as qualifying data (at most 64 bytes).
  [[nodiscard]] virtual result<SignedAttestation> quote(unsigned pcr, ByteView nonce) = 0;
};

/// The identity a secure_link section describes (TPM: nothing is sent to the TPM until the
/// first call; software: keys in `state_dir`). Never throws.
[[nodiscard]] std::unique_ptr<Identity> open_identity(const config::IdentityConfig& identity,
                                                      const std::filesystem::path& state_dir);

}  // namespace guardian::secure_link
