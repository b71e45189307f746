// The development identity (identity.hpp): key files in the state directory and a PCR kept in
// memory (so each process starts from a "reset" PCR, and its measurement log starts anew). It
// speaks the same protocol as the TPM backend so the whole chain can be exercised
// without a TPM, but nothing it produces is evidence of anything: the keys are ordinary files
// and the "quote" is a structure this process fills in and signs itself. Its enrollment record
// says "software", and the trust service refuses it unless its policy says otherwise.
#include <sys/stat.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/rsa.h>

#include <array>
#include <cstdio>
#include <mutex>

#include "guardian/secure_link/identity.hpp"
#include "guardian/secure_link/measurement.hpp"
#include "guardian/secure_link/tpm_structures.hpp"
#include "tpm_identity.hpp"

namespace guardian::secure_link {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTlsKeyFile = "software-tls-key.pem";
constexpr const char* kAkFile = "software-attestation-key.pem";

mbedtls_md_type_t md_of(HashAlgorithm hash) {
  switch (hash) {
    case HashAlgorithm::sha256: return MBEDTLS_MD_SHA256;
    case HashAlgorithm::sha384: return MBEDTLS_MD_SHA384;
    case HashAlgorithm::sha512: return MBEDTLS_MD_SHA512;
  }
  return MBEDTLS_MD_SHA256;
}

result<std::unique_ptr<PkKey>> generate(mbedtls_pk_type_t type) {
  auto key = std::make_unique<PkKey>();
  int rc = mbedtls_pk_setup(key->get(), mbedtls_pk_info_from_type(type));
  if (rc != 0) return mbedtls_error(rc, "cannot set up a key");
  auto& rng = random_generator();
  if (type == MBEDTLS_PK_RSA)
    rc = mbedtls_rsa_gen_key(mbedtls_pk_rsa(*key->get()), RandomGenerator::callback, rng.state(),
                             2048, 65537);
  else
    rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key->get()),
                             RandomGenerator::callback, rng.state());
  if (rc != 0) return mbedtls_error(rc, "key generation failed");
  return key;
}

result<void> save(PkKey& key, const fs::path& path) {
  std::array<unsigned char, 16000> pem{};
  const int rc = mbedtls_pk_write_key_pem(key.get(), pem.data(), pem.size());
  if (rc != 0) return mbedtls_error(rc, "cannot encode the key for " + path.string());
  return write_file_atomically(path, reinterpret_cast<const char*>(pem.data()), 0600);
}

class SoftwareIdentity final : public Identity {
 public:
  explicit SoftwareIdentity(fs::path dir) : dir_(std::move(dir)) {}

  [[nodiscard]] config::IdentityBackend backend() const noexcept override {
    return config::IdentityBackend::software;
  }
  [[nodiscard]] std::string location() const override {
    return "software key files in " + dir_.string() + " (development only)";
  }

  result<std::optional<IdentityKeys>> find_keys() override {
    std::lock_guard lock(mutex_);
    return load();
  }

  result<IdentityKeys> create_keys() override {
    std::lock_guard lock(mutex_);
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) return make_error(ec, "cannot create " + dir_.string());
    for (const auto& [file, type] : {std::pair{kTlsKeyFile, MBEDTLS_PK_RSA},
                                     std::pair{kAkFile, MBEDTLS_PK_ECKEY}}) {
      if (fs::exists(dir_ / file)) continue;
      BOOST_OUTCOME_TRY(key, generate(type));
      BOOST_OUTCOME_TRY(save(*key, dir_ / file));
    }
    BOOST_OUTCOME_TRY(keys, load());
    if (!keys) return make_error("the software keys were written but cannot be read back");
    return std::move(*keys);
  }

  result<int> remove_keys() override {
    std::lock_guard lock(mutex_);
    tls_key_.reset();
    ak_.reset();
    int removed = 0;
    for (const char* file : {kTlsKeyFile, kAkFile}) {
      std::error_code ec;
      if (fs::remove(dir_ / file, ec)) ++removed;
      if (ec) return make_error(ec, "cannot remove " + (dir_ / file).string());
    }
    return removed;
  }

  result<Endorsement> endorsement() override {
    return make_error("a software identity has no TPM, hence no endorsement key");
  }

  result<Bytes> activate_credential(const Credential&) override {
    return make_error("a software identity has no TPM to activate a credential with");
  }

  // Its TLS key has no policy: there is nothing for an approval to unlock.
  result<void> use_approval(const PolicyApproval&) override { return outcome::success(); }

  result<SignedAttestation> certify_tls_key(ByteView) override {
    return make_error("a software identity has no TPM to certify its TLS key");
  }

  result<Bytes> sign(HashAlgorithm hash, ByteView digest) override {
    std::lock_guard lock(mutex_);
    BOOST_OUTCOME_TRY(need_keys());
    Bytes signature(MBEDTLS_MPI_MAX_SIZE);
    std::size_t length = 0;
    auto& rng = random_generator();
    const int rc = mbedtls_pk_sign(tls_key_->get(), md_of(hash), digest.data(), digest.size(),
                                   signature.data(), &length, RandomGenerator::callback,
                                   rng.state());
    if (rc != 0) return mbedtls_error(rc, "signing with the software TLS key failed");
    signature.resize(length);
    return signature;
  }

  result<void> extend_pcr(unsigned pcr, const Sha256Digest& digest) override {
    std::lock_guard lock(mutex_);
    BOOST_OUTCOME_TRY(check_pcr(pcr));
    pcrs_.at(pcr) = pcr_extend(pcrs_.at(pcr), digest);
    return outcome::success();
  }

  result<Sha256Digest> read_pcr(unsigned pcr) override {
    std::lock_guard lock(mutex_);
    BOOST_OUTCOME_TRY(check_pcr(pcr));
    return pcrs_.at(pcr);
  }

  result<SignedAttestation> quote(unsigned pcr, ByteView nonce) override {
    std::lock_guard lock(mutex_);
    BOOST_OUTCOME_TRY(check_pcr(pcr));
    BOOST_OUTCOME_TRY(need_keys());
    QuoteAttestation q;
    q.extra_data.assign(nonce.begin(), nonce.end());
    q.pcr_bank = 0x000B;  // TPM2_ALG_SHA256
    q.software_generated = true;
    q.pcrs = {pcr};
    const auto digest = quote_pcr_digest(pcrs_.at(pcr));
    q.pcr_digest.assign(digest.begin(), digest.end());
    BOOST_OUTCOME_TRY(attest, marshal_quote(q));
    const auto hash = sha256(ByteView(attest));
    mbedtls_mpi r;
    mbedtls_mpi s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    mbedtls_ecp_keypair* ec = mbedtls_pk_ec(*ak_->get());
    auto& rng = random_generator();
    int rc = mbedtls_ecdsa_sign(&ec->grp, &r, &s, &ec->d, hash.data(), hash.size(),
                                RandomGenerator::callback, rng.state());
    std::array<std::uint8_t, 32> rb{};
    std::array<std::uint8_t, 32> sb{};
    if (rc == 0) rc = mbedtls_mpi_write_binary(&r, rb.data(), rb.size());
    if (rc == 0) rc = mbedtls_mpi_write_binary(&s, sb.data(), sb.size());
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    if (rc != 0) return mbedtls_error(rc, "signing the software quote failed");
    BOOST_OUTCOME_TRY(signature, marshal_ecdsa_signature(rb, sb));
    return SignedAttestation{std::move(attest), std::move(signature)};
  }

 private:
  result<void> check_pcr(unsigned pcr) const {
    if (pcr >= pcrs_.size()) return make_error("PCR " + std::to_string(pcr) + " does not exist");
    return outcome::success();
  }

  // Caller holds mutex_.
  result<std::optional<IdentityKeys>> load() {
    if (!fs::exists(dir_ / kTlsKeyFile) || !fs::exists(dir_ / kAkFile))
      return std::optional<IdentityKeys>{};
    BOOST_OUTCOME_TRY(check_private_file(dir_ / kTlsKeyFile, "software key"));
    BOOST_OUTCOME_TRY(check_private_file(dir_ / kAkFile, "software key"));
    BOOST_OUTCOME_TRY(tls, PkKey::from_private_file(dir_ / kTlsKeyFile));
    BOOST_OUTCOME_TRY(ak, PkKey::from_private_file(dir_ / kAkFile));
    if (mbedtls_pk_get_type(tls->get()) != MBEDTLS_PK_RSA ||
        mbedtls_pk_get_bitlen(tls->get()) != 2048 ||
        mbedtls_pk_get_type(ak->get()) != MBEDTLS_PK_ECKEY)
      return make_error("the software key files in " + dir_.string() +
                        " are not an RSA-2048 TLS key and an ECC attestation key");
    IdentityKeys keys;
    BOOST_OUTCOME_TRY(tls_der, tls->public_der());
    BOOST_OUTCOME_TRY(ak_der, ak->public_der());
    keys.tls_public_der = std::move(tls_der);
    keys.ak_public_der = std::move(ak_der);
    tls_key_ = std::move(tls);
    ak_ = std::move(ak);
    return std::optional<IdentityKeys>(std::move(keys));
  }

  result<void> need_keys() {
    if (tls_key_ && ak_) return outcome::success();
    BOOST_OUTCOME_TRY(keys, load());
    if (!keys)
      return make_error("the software identity is not provisioned: no keys in " + dir_.string() +
                        "; run `guardian identity provision`");
    return outcome::success();
  }

  fs::path dir_;
  std::mutex mutex_;
  std::unique_ptr<PkKey> tls_key_;
  std::unique_ptr<PkKey> ak_;
  std::array<Sha256Digest, 24> pcrs_{};
};

}  // namespace

std::unique_ptr<Identity> open_identity(const config::SecureLinkConfig& cfg) {
  if (cfg.identity.backend == config::IdentityBackend::software)
    return std::make_unique<SoftwareIdentity>(cfg.state_dir);
  return std::make_unique<TpmIdentity>(cfg);
}

}  // namespace guardian::secure_link
