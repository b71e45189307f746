#pragma once
/// \file
/// The device identity: a non-exportable RSA-2048 key that signs the TLS handshake, and a
/// restricted ECC P-256 attestation key (AK) that signs quotes of the attestation PCR, certifies
/// the TLS key and activates the trust service's credentials. Two backends behind one interface:
///   - TpmIdentity: both keys created inside a TPM 2.0 (tpm2-tss ESAPI, any TCTI) and kept as
///     persistent objects at configured handles; the private parts never leave the chip. Both
///     keys need an authorization value that only the gateway can read (a 0600 file in the
///     state directory), and the TLS key signs only under the policy of tpm_policy.hpp: while
///     the measurement PCR holds a state the fleet approved. Anything else — another process on
///     the TPM's socket, or the gateway after its binary changed and before the fleet allowed
///     it — gets a TPM error, not a signature.
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
#include "guardian/secure_link/endorsement.hpp"
#include "guardian/secure_link/tpm_policy.hpp"

namespace guardian::secure_link {

/// Hash algorithms a TLS 1.2 CertificateVerify may ask the signing key for.
enum class HashAlgorithm : std::uint8_t { sha256, sha384, sha512 };

/// Size of the TLS key's signatures (RSA-2048).
inline constexpr std::size_t kTlsSignatureSize = 256;

/// The public halves of an identity.
struct IdentityKeys {
  Bytes tls_public_der;  ///< SubjectPublicKeyInfo of the TLS key: the certificate's subject key
  Bytes tls_tpm_public;  ///< its TPM2B_PUBLIC (TPM backend; empty for software)
  Bytes ak_public_der;   ///< SubjectPublicKeyInfo of the attestation key
  Bytes ak_tpm_public;   ///< its TPM2B_PUBLIC (TPM backend; empty for software)
};

/// The TPM's endorsement key and its manufacturer's certificate (TPM backend).
struct Endorsement {
  Bytes ek_tpm_public;   ///< TPM2B_PUBLIC of the EK (template L-1)
  Bytes ek_certificate;  ///< DER from NV 0x01C00002; empty when the TPM has none
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
  /// TPM (or the state directory) could not be asked, a handle holds a key that is not ours, or
  /// the keys are Guardian's but were made without today's policy (an earlier release, or for
  /// another approval key or device id): the error says to rotate them.
  [[nodiscard]] virtual result<std::optional<IdentityKeys>> find_keys() = 0;
  /// Creates whichever key is missing and returns both. Idempotent: existing keys are kept.
  [[nodiscard]] virtual result<IdentityKeys> create_keys() = 0;
  /// Removes Guardian's keys (current or from an earlier release; never another program's)
  /// and their authorization value, for `guardian identity provision --rotate`. Returns how
  /// many keys were removed.
  [[nodiscard]] virtual result<int> remove_keys() = 0;
  /// The endorsement key and certificate. Software backend: an error (it has none).
  [[nodiscard]] virtual result<Endorsement> endorsement() = 0;
  /// TPM2_ActivateCredential (Part 3 §12.5) with the AK as the credential's object and the EK
  /// as its protector: the secret, if and only if both keys are in this TPM and `credential`
  /// was made for them. Software backend: an error.
  [[nodiscard]] virtual result<Bytes> activate_credential(const Credential& credential) = 0;
  /// Installs the fleet's approval of a PCR state, which the TLS key's policy needs to sign.
  /// TPM backend: the TPM checks the signature (TPM2_VerifySignature) and the ticket is kept
  /// for sign(); an error if it is not the configured approval key's. Software backend: no-op.
  [[nodiscard]] virtual result<void> use_approval(const PolicyApproval& approval) = 0;
  /// The attestation key certifies the TLS key (TPM2_Certify, Part 3 §18.2) with
  /// `qualifying_data`: proof that the TLS key lives, fixedTPM, in the same TPM as the AK.
  /// Software backend: an error (there is nothing to prove).
  [[nodiscard]] virtual result<SignedAttestation> certify_tls_key(ByteView qualifying_data) = 0;

  /// Signs `digest` (already hashed with `hash`) with the TLS key, RSASSA-PKCS1-v1_5
  /// (TPM2_Sign, Part 3 §20.2). Returns kTlsSignatureSize bytes. TPM backend: satisfies the
  /// key's policy first (PolicyPCR, PolicyAuthorize with the approval, PolicyAuthValue); fails
  /// with the TPM's error when the PCR no longer holds the approved state.
  [[nodiscard]] virtual result<Bytes> sign(HashAlgorithm hash, ByteView digest) = 0;

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
[[nodiscard]] std::unique_ptr<Identity> open_identity(const config::SecureLinkConfig& cfg);

/// The file in the state directory that holds the TPM keys' authorization value (mode 0600).
inline constexpr const char* kKeyAuthFile = "tpm-key-auth";

}  // namespace guardian::secure_link
