// The TPM 2.0 identity (identity.hpp): keys created and used inside the TPM through ESAPI.
//
//   caller thread(s)                    owner thread (OwnerThread)
//   ────────────────                    ──────────────────────────
//   sign()/quote()/… ──run(task)──▶     lazily: TCTI + ESYS_CONTEXT, persistent ESYS_TRs
//        (blocks)    ◀──result────      one TPM command at a time
//
// Keys are persistent objects (TPM2_EvictControl, Part 3 §28.5) at configured handles rather
// than TPM-wrapped blobs on disk: nothing on disk to lose, protect or restore; no CreatePrimary
// at every start (an RSA primary costs 0.1–0.5 s on swtpm, seconds on some chips); and
// `tpm2_readpublic -c 0x81000101` shows any technician what is there. The price is two of the
// TPM's persistent slots (at least seven on a PC-Client TPM); the handles are configurable, and
// a handle holding a key that is not ours is reported, never overwritten.
#include <tss2/tss2_mu.h>

#include <algorithm>
#include <cstdio>

#include "esys.hpp"
#include "guardian/secure_link/identity.hpp"
#include "guardian/secure_link/tpm_structures.hpp"
#include "owner_thread.hpp"
#include "tpm_identity.hpp"
#include "tss_marshal.hpp"

namespace guardian::secure_link {
namespace {

using esys::Object;

constexpr TPMA_OBJECT kTlsKeyAttributes =
    TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;
constexpr TPMA_OBJECT kAkAttributes = kTlsKeyAttributes | TPMA_OBJECT_RESTRICTED;
constexpr TPMA_OBJECT kStorageAttributes =
    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM |
    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
    TPMA_OBJECT_NODA;

std::string hex_handle(std::uint32_t handle) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", handle);
  return text;
}

// The TLS key: RSA-2048 signing key, scheme NULL so that each TPM2_Sign names the hash the
// TLS handshake needs (SHA-256 or SHA-384), never exportable (fixedTPM, fixedParent) and
// generated inside the TPM (sensitiveDataOrigin).
TPM2B_PUBLIC tls_key_template() {
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_RSA;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = kTlsKeyAttributes;
  t.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  t.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  t.publicArea.parameters.rsaDetail.keyBits = 2048;
  t.publicArea.parameters.rsaDetail.exponent = 0;
  return t;
}

// The attestation key: a restricted ECDSA P-256 signing key. Restricted means the TPM signs
// with it only structures it generated itself (quotes, certifications), never an external
// digest that merely looks like one (Part 1 §25.2).
TPM2B_PUBLIC ak_template() {
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_ECC;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = kAkAttributes;
  auto& ecc = t.publicArea.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_NULL;
  ecc.scheme.scheme = TPM2_ALG_ECDSA;
  ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

// The parent both keys are created under: the ECC P-256 storage primary key of the TCG
// "TPM 2.0 Provisioning Guidance" (SRK template). Re-creating it from the owner seed gives the
// same key, so it is never stored; it is flushed once the keys are persistent.
TPM2B_PUBLIC storage_primary_template() {
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_ECC;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = kStorageAttributes;
  auto& ecc = t.publicArea.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_AES;
  ecc.symmetric.keyBits.aes = 128;
  ecc.symmetric.mode.aes = TPM2_ALG_CFB;
  ecc.scheme.scheme = TPM2_ALG_NULL;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  t.publicArea.unique.ecc.x.size = 32;
  t.publicArea.unique.ecc.y.size = 32;
  return t;
}

TPML_PCR_SELECTION sha256_selection(unsigned pcr) {
  TPML_PCR_SELECTION s{};
  s.count = 1;
  s.pcrSelections[0].hash = TPM2_ALG_SHA256;
  s.pcrSelections[0].sizeofSelect = 3;
  s.pcrSelections[0].pcrSelect[pcr / 8] = static_cast<BYTE>(1u << (pcr % 8));
  return s;
}

result<Bytes> marshal_public(const TPM2B_PUBLIC& pub) {
  return tss_marshal(pub, Tss2_MU_TPM2B_PUBLIC_Marshal, "TPM2B_PUBLIC");
}

result<Bytes> marshal_signature(const TPMT_SIGNATURE& sig) {
  return tss_marshal(sig, Tss2_MU_TPMT_SIGNATURE_Marshal, "TPMT_SIGNATURE");
}

// TPM_RC_HANDLE with any handle/parameter number (Part 2 §6.6.3): nothing at that handle.
bool is_missing_handle(TSS2_RC rc) { return (rc & ~TPM2_RC_N_MASK) == TPM2_RC_HANDLE; }

// A transport error (TCTI layer): the next command starts over with a fresh context.
bool is_transport_error(TSS2_RC rc) {
  return (rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER;
}

// A persistent key found at its handle, with its public area.
struct PersistentKey {
  Object handle;
  Bytes tpm_public;
  Bytes spki_der;
};

}  // namespace

// Everything that touches ESAPI. Lives on, and is only used from, the owner thread.
struct TpmIdentity::Tpm {
  explicit Tpm(config::IdentityConfig c) : cfg(std::move(c)) {}

  result<ESYS_CONTEXT*> context() {
    if (reconnect) {
      // Handles first: their metadata lives in the context.
      tls_key = {};
      ak = {};
      ctx.reset();
      reconnect = false;
    }
    if (!ctx) {
      BOOST_OUTCOME_TRY(opened, esys::Context::open(cfg.tcti));
      ctx = std::move(opened);
    }
    return ctx->get();
  }

  // Every TSS2 failure goes through here, once: it keeps the value, says what was being done,
  // and drops the context after a transport error so the next command reconnects (not now:
  // the caller may still hold objects of this context).
  Error fail(TSS2_RC rc, const std::string& what) {
    if (is_transport_error(rc)) reconnect = true;
    return tss2_error(rc, what + " failed (TPM via " + cfg.tcti + ")");
  }

  result<std::optional<PersistentKey>> find(std::uint32_t handle, const TPM2B_PUBLIC& expected,
                                            const char* what) {
    BOOST_OUTCOME_TRY(c, context());
    ESYS_TR tr = ESYS_TR_NONE;
    TSS2_RC rc = Esys_TR_FromTPMPublic(c, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
    if (is_missing_handle(rc)) return std::optional<PersistentKey>{};
    if (rc != TSS2_RC_SUCCESS) return fail(rc, std::string("reading the ") + what + " at " + hex_handle(handle));
    PersistentKey key{Object(c, tr, Object::Kind::persistent), {}, {}};
    esys::Ptr<TPM2B_PUBLIC> pub;
    {
      TPM2B_PUBLIC* raw = nullptr;
      rc = Esys_ReadPublic(c, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &raw, nullptr, nullptr);
      pub.reset(raw);
    }
    if (rc != TSS2_RC_SUCCESS) return fail(rc, std::string("TPM2_ReadPublic of the ") + what);
    const TPMT_PUBLIC& area = pub->publicArea;
    if (area.type != expected.publicArea.type ||
        area.objectAttributes != expected.publicArea.objectAttributes ||
        area.nameAlg != expected.publicArea.nameAlg)
      return make_error("persistent handle " + hex_handle(handle) +
                        " holds a key that is not Guardian's " + what +
                        " (different type or attributes); it is left untouched — choose "
                        "another handle in secure_link.identity, or evict it with "
                        "tpm2_evictcontrol if it is known to be unused");
    BOOST_OUTCOME_TRY(marshalled, marshal_public(*pub));
    BOOST_OUTCOME_TRY(parsed, parse_tpm_public(marshalled));
    key.tpm_public = std::move(marshalled);
    key.spki_der = std::move(parsed.spki_der);
    return std::optional<PersistentKey>(std::move(key));
  }

  result<Object> create_primary() {
    BOOST_OUTCOME_TRY(c, context());
    const TPM2B_SENSITIVE_CREATE sensitive{};
    const TPM2B_PUBLIC templ = storage_primary_template();
    const TPM2B_DATA outside{};
    const TPML_PCR_SELECTION no_pcrs{};
    ESYS_TR primary = ESYS_TR_NONE;
    const TSS2_RC rc =
        Esys_CreatePrimary(c, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                           &sensitive, &templ, &outside, &no_pcrs, &primary, nullptr, nullptr,
                           nullptr, nullptr);
    if (rc != TSS2_RC_SUCCESS)
      return fail(rc, "TPM2_CreatePrimary of the storage key under the owner hierarchy (is the "
                      "owner authorisation empty?)");
    return Object(c, primary, Object::Kind::transient);
  }

  // TPM2_Create + TPM2_Load under `parent`, then TPM2_EvictControl to `handle`.
  result<void> create_persistent(const Object& parent, const TPM2B_PUBLIC& templ,
                                 std::uint32_t handle, const char* what) {
    BOOST_OUTCOME_TRY(c, context());
    const TPM2B_SENSITIVE_CREATE sensitive{};
    const TPM2B_DATA outside{};
    const TPML_PCR_SELECTION no_pcrs{};
    esys::Ptr<TPM2B_PRIVATE> priv;
    esys::Ptr<TPM2B_PUBLIC> pub;
    {
      TPM2B_PRIVATE* raw_priv = nullptr;
      TPM2B_PUBLIC* raw_pub = nullptr;
      const TSS2_RC rc =
          Esys_Create(c, parent.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                      &templ, &outside, &no_pcrs, &raw_priv, &raw_pub, nullptr, nullptr, nullptr);
      priv.reset(raw_priv);
      pub.reset(raw_pub);
      if (rc != TSS2_RC_SUCCESS) return fail(rc, std::string("TPM2_Create of the ") + what);
    }
    ESYS_TR loaded_tr = ESYS_TR_NONE;
    TSS2_RC rc = Esys_Load(c, parent.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                           priv.get(), pub.get(), &loaded_tr);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, std::string("TPM2_Load of the ") + what);
    Object loaded(c, loaded_tr, Object::Kind::transient);
    ESYS_TR persistent_tr = ESYS_TR_NONE;
    rc = Esys_EvictControl(c, ESYS_TR_RH_OWNER, loaded.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE,
                           ESYS_TR_NONE, handle, &persistent_tr);
    if (rc != TSS2_RC_SUCCESS)
      return fail(rc, std::string("TPM2_EvictControl of the ") + what + " to " + hex_handle(handle));
    Object persistent(c, persistent_tr, Object::Kind::persistent);
    return outcome::success();
  }

  // ESAPI hands out one ESYS_TR per TPM handle, so two Objects for the same key would close
  // it twice: the cached handles are dropped before looking again.
  result<std::optional<IdentityKeys>> find_keys() {
    tls_key = {};
    ak = {};
    BOOST_OUTCOME_TRY(tls, find(cfg.signing_key_handle, tls_key_template(), "TLS signing key"));
    BOOST_OUTCOME_TRY(attestation, find(cfg.attestation_key_handle, ak_template(), "attestation key"));
    if (!tls || !attestation) return std::optional<IdentityKeys>{};
    IdentityKeys keys{tls->spki_der, tls->tpm_public, attestation->spki_der,
                      attestation->tpm_public};
    tls_key = std::move(tls->handle);
    ak = std::move(attestation->handle);
    return std::optional<IdentityKeys>(std::move(keys));
  }

  result<IdentityKeys> create_keys() {
    BOOST_OUTCOME_TRY(existing, find_keys());
    if (existing) return std::move(*existing);
    {
      tls_key = {};
      ak = {};
      BOOST_OUTCOME_TRY(tls, find(cfg.signing_key_handle, tls_key_template(), "TLS signing key"));
      BOOST_OUTCOME_TRY(attestation,
                        find(cfg.attestation_key_handle, ak_template(), "attestation key"));
      BOOST_OUTCOME_TRY(primary, create_primary());
      if (!tls) {
        BOOST_OUTCOME_TRY(create_persistent(primary, tls_key_template(), cfg.signing_key_handle,
                                            "TLS signing key"));
      }
      if (!attestation) {
        BOOST_OUTCOME_TRY(create_persistent(primary, ak_template(), cfg.attestation_key_handle,
                                            "attestation key"));
      }
    }
    BOOST_OUTCOME_TRY(keys, find_keys());
    if (!keys) return make_error("the keys were created but cannot be found at their handles");
    return std::move(*keys);
  }

  // The cached handles of both keys (find_keys() fills them).
  result<void> need_keys() {
    if (tls_key && ak) return outcome::success();
    BOOST_OUTCOME_TRY(keys, find_keys());
    if (!keys)
      return make_error("the identity is not provisioned: no keys at " +
                        hex_handle(cfg.signing_key_handle) + "/" +
                        hex_handle(cfg.attestation_key_handle) +
                        " in the TPM; run `guardian identity provision`");
    return outcome::success();
  }

  result<SignedAttestation> certify(ByteView qualifying) {
    BOOST_OUTCOME_TRY(need_keys());
    TPM2B_DATA data{};
    data.size = static_cast<UINT16>(std::min(qualifying.size(), sizeof data.buffer));
    std::copy_n(qualifying.begin(), data.size, data.buffer);
    const TPMT_SIG_SCHEME scheme{TPM2_ALG_NULL, {}};
    TPM2B_ATTEST* raw_info = nullptr;
    TPMT_SIGNATURE* raw_sig = nullptr;
    const TSS2_RC rc =
        Esys_Certify(ctx->get(), tls_key.get(), ak.get(), ESYS_TR_PASSWORD, ESYS_TR_PASSWORD,
                     ESYS_TR_NONE, &data, &scheme, &raw_info, &raw_sig);
    esys::Ptr<TPM2B_ATTEST> info(raw_info);
    esys::Ptr<TPMT_SIGNATURE> sig(raw_sig);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_Certify of the TLS key by the attestation key");
    BOOST_OUTCOME_TRY(signature, marshal_signature(*sig));
    return SignedAttestation{Bytes(info->attestationData, info->attestationData + info->size),
                             std::move(signature)};
  }

  result<Bytes> sign(HashAlgorithm hash, ByteView digest) {
    BOOST_OUTCOME_TRY(need_keys());
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_RSASSA;
    switch (hash) {
      case HashAlgorithm::sha256: scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256; break;
      case HashAlgorithm::sha384: scheme.details.rsassa.hashAlg = TPM2_ALG_SHA384; break;
      case HashAlgorithm::sha512: scheme.details.rsassa.hashAlg = TPM2_ALG_SHA512; break;
    }
    TPM2B_DIGEST in{};
    if (digest.size() > sizeof in.buffer) return make_error("digest too long for TPM2_Sign");
    in.size = static_cast<UINT16>(digest.size());
    std::copy(digest.begin(), digest.end(), in.buffer);
    // A NULL ticket: the key is not restricted, so it may sign a digest the TPM did not compute.
    TPMT_TK_HASHCHECK validation{};
    validation.tag = TPM2_ST_HASHCHECK;
    validation.hierarchy = TPM2_RH_NULL;
    TPMT_SIGNATURE* raw = nullptr;
    const TSS2_RC rc = Esys_Sign(ctx->get(), tls_key.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, &in, &scheme, &validation, &raw);
    esys::Ptr<TPMT_SIGNATURE> sig(raw);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_Sign with the TLS key");
    const auto& s = sig->signature.rsassa.sig;
    return Bytes(s.buffer, s.buffer + s.size);
  }

  result<void> reset_pcr(unsigned pcr) {
    BOOST_OUTCOME_TRY(c, context());
    const TSS2_RC rc = Esys_PCR_Reset(c, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                      ESYS_TR_NONE);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_PCR_Reset of PCR " + std::to_string(pcr));
    return outcome::success();
  }

  result<void> extend_pcr(unsigned pcr, const Sha256Digest& digest) {
    BOOST_OUTCOME_TRY(c, context());
    TPML_DIGEST_VALUES values{};
    values.count = 1;
    values.digests[0].hashAlg = TPM2_ALG_SHA256;
    std::copy(digest.begin(), digest.end(), values.digests[0].digest.sha256);
    const TSS2_RC rc = Esys_PCR_Extend(c, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                       ESYS_TR_NONE, &values);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_PCR_Extend of PCR " + std::to_string(pcr));
    return outcome::success();
  }

  result<Sha256Digest> read_pcr(unsigned pcr) {
    BOOST_OUTCOME_TRY(c, context());
    const auto selection = sha256_selection(pcr);
    TPML_PCR_SELECTION* raw_out = nullptr;
    TPML_DIGEST* raw_values = nullptr;
    const TSS2_RC rc = Esys_PCR_Read(c, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &selection,
                                     nullptr, &raw_out, &raw_values);
    esys::Ptr<TPML_PCR_SELECTION> out(raw_out);
    esys::Ptr<TPML_DIGEST> values(raw_values);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_PCR_Read of PCR " + std::to_string(pcr));
    if (values->count != 1 || values->digests[0].size != 32)
      return make_error("the TPM has no SHA-256 bank for PCR " + std::to_string(pcr));
    Sha256Digest d{};
    std::copy_n(values->digests[0].buffer, d.size(), d.begin());
    return d;
  }

  result<SignedAttestation> quote(unsigned pcr, ByteView nonce) {
    BOOST_OUTCOME_TRY(need_keys());
    TPM2B_DATA data{};
    if (nonce.size() > sizeof data.buffer) return make_error("nonce too long for TPM2_Quote");
    data.size = static_cast<UINT16>(nonce.size());
    std::copy(nonce.begin(), nonce.end(), data.buffer);
    const TPMT_SIG_SCHEME scheme{TPM2_ALG_NULL, {}};  // the AK's own scheme: ECDSA-SHA256
    const auto selection = sha256_selection(pcr);
    TPM2B_ATTEST* raw_quoted = nullptr;
    TPMT_SIGNATURE* raw_sig = nullptr;
    const TSS2_RC rc = Esys_Quote(ctx->get(), ak.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, &data, &scheme, &selection, &raw_quoted, &raw_sig);
    esys::Ptr<TPM2B_ATTEST> quoted(raw_quoted);
    esys::Ptr<TPMT_SIGNATURE> sig(raw_sig);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_Quote of PCR " + std::to_string(pcr));
    BOOST_OUTCOME_TRY(signature, marshal_signature(*sig));
    return SignedAttestation{
        Bytes(quoted->attestationData, quoted->attestationData + quoted->size),
        std::move(signature)};
  }

  config::IdentityConfig cfg;
  std::unique_ptr<esys::Context> ctx;
  Object tls_key;  // persistent handle metadata, cached after the first lookup
  Object ak;
  bool reconnect = false;
};

TpmIdentity::TpmIdentity(config::IdentityConfig cfg)
    : cfg_(cfg), tpm_(std::make_unique<Tpm>(std::move(cfg))), owner_(std::make_unique<OwnerThread>()) {}

TpmIdentity::~TpmIdentity() {
  // The ESAPI context is destroyed where it lived.
  owner_->run([this] { tpm_.reset(); });
}

std::string TpmIdentity::location() const {
  return "TPM at " + cfg_.tcti + ", TLS key " + hex_handle(cfg_.signing_key_handle) +
         ", attestation key " + hex_handle(cfg_.attestation_key_handle);
}

result<std::optional<IdentityKeys>> TpmIdentity::find_keys() {
  return owner_->run([this] { return tpm_->find_keys(); });
}

result<IdentityKeys> TpmIdentity::create_keys() {
  return owner_->run([this] { return tpm_->create_keys(); });
}

result<SignedAttestation> TpmIdentity::certify_tls_key(ByteView qualifying_data) {
  return owner_->run([&] { return tpm_->certify(qualifying_data); });
}

result<Bytes> TpmIdentity::sign(HashAlgorithm hash, ByteView digest) {
  return owner_->run([&] { return tpm_->sign(hash, digest); });
}

result<void> TpmIdentity::reset_pcr(unsigned pcr) {
  return owner_->run([&] { return tpm_->reset_pcr(pcr); });
}

result<void> TpmIdentity::extend_pcr(unsigned pcr, const Sha256Digest& digest) {
  return owner_->run([&] { return tpm_->extend_pcr(pcr, digest); });
}

result<Sha256Digest> TpmIdentity::read_pcr(unsigned pcr) {
  return owner_->run([&] { return tpm_->read_pcr(pcr); });
}

result<SignedAttestation> TpmIdentity::quote(unsigned pcr, ByteView nonce) {
  return owner_->run([&] { return tpm_->quote(pcr, nonce); });
}

namespace esys {

result<std::unique_ptr<Context>> Context::open(const std::string& tcti) {
  TSS2_TCTI_CONTEXT* t = nullptr;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti.c_str(), &t);
  if (rc != TSS2_RC_SUCCESS)
    return tss2_error(rc, "cannot open the TPM through TCTI \"" + tcti +
                              "\" (is the device present and readable by this user, or the "
                              "simulator running?)");
  ESYS_CONTEXT* ctx = nullptr;
  rc = Esys_Initialize(&ctx, t, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    Tss2_TctiLdr_Finalize(&t);
    return tss2_error(rc, "cannot initialise ESAPI on TCTI \"" + tcti + "\"");
  }
  return std::unique_ptr<Context>(new Context(t, ctx));
}

Context::~Context() {
  Esys_Finalize(&ctx_);
  Tss2_TctiLdr_Finalize(&tcti_);
}

}  // namespace esys

}  // namespace guardian::secure_link
