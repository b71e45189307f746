// The TPM 2.0 identity (identity.hpp): keys created and used inside the TPM through ESAPI.
//
//   caller thread(s)                    owner thread (OwnerThread)
//   ────────────────                    ──────────────────────────
//   sign()/quote()/… ──run(task)──▶     lazily: TCTI + ESYS_CONTEXT, persistent ESYS_TRs
//        (blocks)    ◀──result────      one TPM command at a time
//
// Keys are persistent objects (TPM2_EvictControl, Part 3 §28.5) at configured handles rather
// than TPM-wrapped blobs on disk: no CreatePrimary at every start (an RSA primary costs
// 0.1–0.5 s on swtpm, seconds on some chips), and `tpm2_readpublic -c 0x81000101` shows any
// technician what is there. A handle holding a key that is not ours is reported, never
// overwritten.
//
// Who may use the keys (docs/secure-link.md, "Threat model"):
//   - both need the authorization value in state_dir/tpm-key-auth (0600, the gateway's user):
//     a process that can reach the TPM but not that file gets TPM_RC_AUTH_FAIL/BAD_AUTH;
//   - the TLS key has userWithAuth CLEAR, so even the authorization value alone is not enough:
//     a USER-role command (TPM2_Sign) needs a policy session that satisfied the key's authPolicy
//     (tpm_policy.hpp) — the measurement PCR in a state the fleet's approval key signed;
//   - both are noDA: a guessing attack on a 256-bit value is hopeless, and counting failures
//     would let any local process lock the gateway out of its own keys (dictionary-attack
//     lockout, Part 1 §19.8, is per TPM, not per key);
//   - every authorization travels in an HMAC or policy session, never as a password session,
//     so the value does not cross the bus to a discrete TPM in the clear.
#include <fcntl.h>
#include <sys/stat.h>
#include <tss2/tss2_mu.h>

#include <algorithm>
#include <cstdio>

#include "esys.hpp"
#include "guardian/secure_link/identity.hpp"
#include "guardian/secure_link/tpm_structures.hpp"
#include "owner_thread.hpp"
#include "tpm_identity.hpp"
#include "tpm_templates.hpp"
#include "tss_marshal.hpp"

namespace guardian::secure_link {
namespace {

namespace fs = std::filesystem;
using esys::Object;

constexpr TPMA_OBJECT kTlsKeyAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |
                                          TPMA_OBJECT_FIXEDPARENT |
                                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_NODA;
constexpr TPMA_OBJECT kAkAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |
                                      TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                      TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
                                      TPMA_OBJECT_RESTRICTED;
// The keys of Guardian 0.1: empty authorization, no policy. Recognised only to be rotated.
constexpr TPMA_OBJECT kLegacyTlsKeyAttributes =
    TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;
constexpr TPMA_OBJECT kLegacyAkAttributes = kLegacyTlsKeyAttributes | TPMA_OBJECT_RESTRICTED;
constexpr TPMA_OBJECT kStorageAttributes =
    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM |
    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
    TPMA_OBJECT_NODA;
// EK Credential Profile 2.0 §B.3.3 template L-1 (see endorsement.hpp).
constexpr TPMA_OBJECT kEkAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                      TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                      TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED |
                                      TPMA_OBJECT_DECRYPT;
// TCG "Registry of Reserved TPM 2.0 Handles and Localities": where a provisioned RSA EK is kept.
constexpr std::uint32_t kPersistentRsaEkHandle = 0x81010001;
constexpr std::size_t kAuthSize = 32;  // TPM2B_AUTH may not exceed the nameAlg's digest
constexpr UINT16 kNvChunk = 512;       // below every TPM's TPM2_PT_NV_BUFFER_MAX

std::string hex_handle(std::uint32_t handle) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", handle);
  return text;
}

// The TLS key: RSA-2048 signing key, scheme NULL so that each TPM2_Sign names the hash the
// TLS handshake needs (SHA-256 or SHA-384), never exportable (fixedTPM, fixedParent),
// generated inside the TPM (sensitiveDataOrigin), usable only through its policy.
TPM2B_PUBLIC tls_key_template(const Sha256Digest& policy) {
  TPM2B_PUBLIC t{};
  set_rsa2048(t.publicArea, kTlsKeyAttributes, policy);
  return t;
}

// The attestation key: a restricted ECDSA P-256 signing key. Restricted means the TPM signs
// with it only structures it generated itself (quotes, certifications), never an external
// digest that merely looks like one (Part 1 §25.2). No PCR policy: it must be able to quote
// any state, so that a new state can be attested and approved.
TPM2B_PUBLIC ak_template() {
  TPM2B_PUBLIC t{};
  set_ecdsa_p256(t.publicArea);
  t.publicArea.objectAttributes = kAkAttributes;
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
  set_aes128_cfb(ecc.symmetric);
  ecc.scheme.scheme = TPM2_ALG_NULL;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  t.publicArea.unique.ecc.x.size = 32;
  t.publicArea.unique.ecc.y.size = 32;
  return t;
}

// The RSA endorsement key, template L-1: created from the endorsement seed, so it is the same
// key every time, and the one the manufacturer certified.
TPM2B_PUBLIC ek_template() {
  TPM2B_PUBLIC t{};
  set_rsa2048(t.publicArea, kEkAttributes, kEkPolicy);
  set_aes128_cfb(t.publicArea.parameters.rsaDetail.symmetric);
  t.publicArea.unique.rsa.size = 256;
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

// Unmarshals a whole buffer into a TSS2 structure (input from the trust service).
template <class T>
result<T> tss_unmarshal(ByteView bytes,
                        TSS2_RC (*unmarshal)(const std::uint8_t*, std::size_t, std::size_t*, T*),
                        const char* what) {
  T out{};
  std::size_t offset = 0;
  const TSS2_RC rc = unmarshal(bytes.data(), bytes.size(), &offset, &out);
  if (rc != TSS2_RC_SUCCESS) return tss2_error(rc, std::string("malformed ") + what);
  if (offset != bytes.size()) return make_error(std::string(what) + " has trailing bytes");
  return out;
}

// TPM_RC_HANDLE with any handle/parameter number (Part 2 §6.6.3): nothing at that handle.
bool is_missing_handle(TSS2_RC rc) { return (rc & ~TPM2_RC_N_MASK) == TPM2_RC_HANDLE; }

// A format-one response code without the handle/session/parameter it names (Part 2 §6.6.3:
// bits 8–11 the number, bit 6 "it is a parameter").
TSS2_RC without_number(TSS2_RC rc) {
  return (rc & TPM2_RC_FMT1) != 0 ? (rc & ~(TPM2_RC_N_MASK | TPM2_RC_P)) : rc;
}

// A transport error (TCTI layer): the next command starts over with a fresh context.
bool is_transport_error(TSS2_RC rc) {
  return (rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER;
}

// What a persistent handle holds, compared with what Guardian would put there.
enum class Holder : std::uint8_t { nothing, ours, legacy, other_policy, foreign };

struct PersistentKey {
  Holder holder = Holder::nothing;
  Object handle;
  Bytes tpm_public;
  Bytes spki_der;
};

}  // namespace

// Everything that touches ESAPI. Lives on, and is only used from, the owner thread.
struct TpmIdentity::Tpm {
  explicit Tpm(const config::SecureLinkConfig& c)
      : cfg(c.identity), state_dir(c.state_dir), device_id(c.device_id),
        approval_key_file(c.trust_service.approval_key) {}

  result<ESYS_CONTEXT*> context() {
    if (reconnect) {
      // Handles first: their metadata lives in the context.
      tls_key = {};
      ak = {};
      approval.reset();
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

  // ── what the keys are bound to ──

  result<const ApprovalKey*> approver() {
    if (!approval_key) {
      if (approval_key_file.empty())
        return make_error("secure_link.trust_service.approval_key is not set: the TPM keys' "
                          "policy names the fleet's approval key");
      BOOST_OUTCOME_TRY(key, load_approval_key(approval_key_file));
      approval_key = std::move(key);
    }
    return &*approval_key;
  }

  [[nodiscard]] fs::path auth_file() const { return state_dir / kKeyAuthFile; }

  // The keys' authorization value. `create`: made (32 random bytes, 0600) if there is none.
  result<const TPM2B_AUTH*> key_auth(bool create) {
    if (auth) return &*auth;
    const fs::path file = auth_file();
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      if (!create)
        return make_error("the TPM keys' authorization value " + file.string() +
                          " is missing: without it the keys cannot be used; run `guardian "
                          "identity provision --rotate` and enroll the new record");
      if (fs::create_directories(state_dir, ec)) ::chmod(state_dir.c_str(), 0700);
      const Bytes value = random_generator().bytes(kAuthSize);
      BOOST_OUTCOME_TRY(write_file_atomically(
          file, std::string_view(reinterpret_cast<const char*>(value.data()), value.size()), 0600));
    }
    BOOST_OUTCOME_TRY(check_private_file(file, "TPM key authorization value"));
    BOOST_OUTCOME_TRY(text, read_text_file(file));
    if (text.size() != kAuthSize)
      return make_error(file.string() + " is not a TPM key authorization value (" +
                        std::to_string(kAuthSize) + " bytes expected)");
    TPM2B_AUTH a{};
    a.size = static_cast<UINT16>(text.size());
    std::copy(text.begin(), text.end(), a.buffer);
    auth = a;
    return &*auth;
  }

  result<Sha256Digest> tls_policy() {
    BOOST_OUTCOME_TRY(key, approver());
    return tls_key_policy(*key, device_id);
  }

  // ── keys ──

  result<PersistentKey> inspect(std::uint32_t handle, bool tls, const char* what) {
    BOOST_OUTCOME_TRY(c, context());
    PersistentKey key;
    ESYS_TR tr = ESYS_TR_NONE;
    TSS2_RC rc = Esys_TR_FromTPMPublic(c, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
    if (is_missing_handle(rc)) return key;
    if (rc != TSS2_RC_SUCCESS)
      return fail(rc, std::string("reading the ") + what + " at " + hex_handle(handle));
    key.handle = Object(c, tr, Object::Kind::persistent);
    esys::Ptr<TPM2B_PUBLIC> pub;
    {
      TPM2B_PUBLIC* raw = nullptr;
      rc = Esys_ReadPublic(c, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &raw, nullptr, nullptr);
      pub.reset(raw);
    }
    if (rc != TSS2_RC_SUCCESS) return fail(rc, std::string("TPM2_ReadPublic of the ") + what);
    const TPMT_PUBLIC& area = pub->publicArea;
    const auto expected_type = tls ? TPM2_ALG_RSA : TPM2_ALG_ECC;
    const auto attributes = area.objectAttributes;
    if (area.type != expected_type || area.nameAlg != TPM2_ALG_SHA256) {
      key.holder = Holder::foreign;
    } else if (attributes == (tls ? kLegacyTlsKeyAttributes : kLegacyAkAttributes)) {
      key.holder = Holder::legacy;
    } else if (attributes != (tls ? kTlsKeyAttributes : kAkAttributes)) {
      key.holder = Holder::foreign;
    } else if (tls) {
      BOOST_OUTCOME_TRY(policy, tls_policy());
      const bool same = area.authPolicy.size == policy.size() &&
                        std::equal(policy.begin(), policy.end(), area.authPolicy.buffer);
      key.holder = same ? Holder::ours : Holder::other_policy;
    } else {
      key.holder = area.authPolicy.size == 0 ? Holder::ours : Holder::foreign;
    }
    BOOST_OUTCOME_TRY(marshalled, marshal_public(*pub));
    BOOST_OUTCOME_TRY(parsed, parse_tpm_public(marshalled));
    key.tpm_public = std::move(marshalled);
    key.spki_der = std::move(parsed.spki_der);
    return key;
  }

  // The error for a handle that holds a key Guardian must not use as it is.
  Error unusable(const PersistentKey& key, std::uint32_t handle, const char* what) const {
    switch (key.holder) {
      case Holder::legacy:
        return make_error("the " + std::string(what) + " at " + hex_handle(handle) +
                          " was created by an earlier Guardian without an authorization value "
                          "or policy: any program that can reach the TPM could use it. Run "
                          "`guardian identity provision --rotate` (new keys, a new enrollment "
                          "record) and have the operator enroll the new record with "
                          "`guardian-trust enroll --replace`");
      case Holder::other_policy:
        return make_error("the " + std::string(what) + " at " + hex_handle(handle) +
                          " is bound to another approval key or device id than "
                          "secure_link.trust_service.approval_key and device.id say: run "
                          "`guardian identity provision --rotate` and enroll the new record");
      default:
        return make_error("persistent handle " + hex_handle(handle) +
                          " holds a key that is not Guardian's " + what +
                          " (different type or attributes); it is left untouched — choose "
                          "another handle in secure_link.identity, or evict it with "
                          "tpm2_evictcontrol if it is known to be unused");
    }
  }

  result<Object> create_primary(ESYS_TR hierarchy, const TPM2B_PUBLIC& templ, const char* what,
                                Bytes* public_out = nullptr) {
    BOOST_OUTCOME_TRY(c, context());
    const TPM2B_SENSITIVE_CREATE sensitive{};
    const TPM2B_DATA outside{};
    const TPML_PCR_SELECTION no_pcrs{};
    ESYS_TR primary = ESYS_TR_NONE;
    TPM2B_PUBLIC* raw_pub = nullptr;
    const TSS2_RC rc = Esys_CreatePrimary(c, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                          ESYS_TR_NONE, &sensitive, &templ, &outside, &no_pcrs,
                                          &primary, &raw_pub, nullptr, nullptr, nullptr);
    esys::Ptr<TPM2B_PUBLIC> pub(raw_pub);
    if (rc != TSS2_RC_SUCCESS)
      return fail(rc, std::string("TPM2_CreatePrimary of the ") + what +
                          " (is the hierarchy's authorisation empty?)");
    Object object(c, primary, Object::Kind::transient);
    if (public_out != nullptr) {
      BOOST_OUTCOME_TRY(marshalled, marshal_public(*pub));
      *public_out = std::move(marshalled);
    }
    return object;
  }

  // TPM2_Create + TPM2_Load under `parent`, then TPM2_EvictControl to `handle`.
  result<void> create_persistent(const Object& parent, const TPM2B_PUBLIC& templ,
                                 std::uint32_t handle, const char* what) {
    BOOST_OUTCOME_TRY(c, context());
    BOOST_OUTCOME_TRY(secret, key_auth(/*create=*/true));
    TPM2B_SENSITIVE_CREATE sensitive{};
    sensitive.sensitive.userAuth = *secret;
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

  // What both handles hold; an error when either holds a key Guardian must not use as it is.
  // ESAPI hands out one ESYS_TR per TPM handle, so two Objects for the same key would close
  // it twice: the cached handles are dropped before looking again.
  struct BothKeys {
    PersistentKey tls;
    PersistentKey attestation;
  };
  result<BothKeys> inspect_both() {
    tls_key = {};
    ak = {};
    BOOST_OUTCOME_TRY(tls, inspect(cfg.signing_key_handle, true, "TLS signing key"));
    BOOST_OUTCOME_TRY(attestation, inspect(cfg.attestation_key_handle, false, "attestation key"));
    if (tls.holder != Holder::nothing && tls.holder != Holder::ours)
      return unusable(tls, cfg.signing_key_handle, "TLS signing key");
    if (attestation.holder != Holder::nothing && attestation.holder != Holder::ours)
      return unusable(attestation, cfg.attestation_key_handle, "attestation key");
    return BothKeys{std::move(tls), std::move(attestation)};
  }

  result<std::optional<IdentityKeys>> find_keys() {
    BOOST_OUTCOME_TRY(both, inspect_both());
    auto& [tls, attestation] = both;
    if (tls.holder == Holder::nothing || attestation.holder == Holder::nothing)
      return std::optional<IdentityKeys>{};
    BOOST_OUTCOME_TRY(secret, key_auth(/*create=*/false));
    BOOST_OUTCOME_TRY(c, context());
    Esys_TR_SetAuth(c, tls.handle.get(), secret);
    Esys_TR_SetAuth(c, attestation.handle.get(), secret);
    IdentityKeys keys{tls.spki_der, tls.tpm_public, attestation.spki_der, attestation.tpm_public};
    tls_key = std::move(tls.handle);
    ak = std::move(attestation.handle);
    return std::optional<IdentityKeys>(std::move(keys));
  }

  result<IdentityKeys> create_keys() {
    {
      BOOST_OUTCOME_TRY(both, inspect_both());
      const bool need_tls = both.tls.holder == Holder::nothing;
      const bool need_ak = both.attestation.holder == Holder::nothing;
      if (need_tls || need_ak) {
        // A key made earlier with an authorization value that is now lost cannot be completed
        // with a new value: the two keys share one.
        std::error_code ec;
        if ((!need_tls || !need_ak) && !fs::exists(auth_file(), ec))
          return make_error("one of the keys exists but its authorization value " +
                            auth_file().string() +
                            " is missing: run `guardian identity provision --rotate`");
        BOOST_OUTCOME_TRY(policy, tls_policy());
        BOOST_OUTCOME_TRY(primary, create_primary(ESYS_TR_RH_OWNER, storage_primary_template(),
                                                  "storage key under the owner hierarchy"));
        if (need_tls) {
          BOOST_OUTCOME_TRY(create_persistent(primary, tls_key_template(policy),
                                              cfg.signing_key_handle, "TLS signing key"));
        }
        if (need_ak) {
          BOOST_OUTCOME_TRY(create_persistent(primary, ak_template(), cfg.attestation_key_handle,
                                              "attestation key"));
        }
      }
    }
    BOOST_OUTCOME_TRY(keys, find_keys());
    if (!keys) return make_error("the keys were created but cannot be found at their handles");
    return std::move(*keys);
  }

  result<int> remove_keys() {
    tls_key = {};
    ak = {};
    approval.reset();
    BOOST_OUTCOME_TRY(c, context());
    int removed = 0;
    for (const auto& [handle, tls, what] :
         {std::tuple{cfg.signing_key_handle, true, "TLS signing key"},
          std::tuple{cfg.attestation_key_handle, false, "attestation key"}}) {
      BOOST_OUTCOME_TRY(key, inspect(handle, tls, what));
      if (key.holder == Holder::nothing || key.holder == Holder::foreign) continue;
      ESYS_TR none = ESYS_TR_NONE;
      const TSS2_RC rc = Esys_EvictControl(c, ESYS_TR_RH_OWNER, key.handle.get(), ESYS_TR_PASSWORD,
                                           ESYS_TR_NONE, ESYS_TR_NONE, handle, &none);
      if (rc != TSS2_RC_SUCCESS)
        return fail(rc, std::string("TPM2_EvictControl removing the ") + what + " at " + hex_handle(handle));
      ++removed;
    }
    std::error_code ec;
    fs::remove(auth_file(), ec);
    if (ec) return make_error(ec, "cannot remove " + auth_file().string());
    auth.reset();
    return removed;
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

  // ── sessions ──

  // An unbound, unsalted session (Part 1 §19.6): HMAC to prove knowledge of an authorization
  // value without sending it, or policy. Flushed when the Object goes.
  result<Object> start_session(TPM2_SE type, const char* what) {
    BOOST_OUTCOME_TRY(c, context());
    const TPMT_SYM_DEF symmetric{TPM2_ALG_NULL, {}, {}};
    ESYS_TR session = ESYS_TR_NONE;
    const TSS2_RC rc = Esys_StartAuthSession(c, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                             ESYS_TR_NONE, ESYS_TR_NONE, nullptr, type, &symmetric,
                                             TPM2_ALG_SHA256, &session);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, std::string("TPM2_StartAuthSession for ") + what);
    // Kept open after each command and flushed by Object, so its ESYS_TR stays valid.
    Esys_TRSess_SetAttributes(c, session, TPMA_SESSION_CONTINUESESSION, 0xff);
    return Object(c, session, Object::Kind::transient);
  }

  // ── commands ──

  result<SignedAttestation> certify(ByteView qualifying) {
    BOOST_OUTCOME_TRY(need_keys());
    TPM2B_DATA data{};
    data.size = static_cast<UINT16>(std::min(qualifying.size(), sizeof data.buffer));
    std::copy_n(qualifying.begin(), data.size, data.buffer);
    // TPM2_Certify: the certified object in the ADMIN role (adminWithPolicy is clear, so its
    // authorization value), the AK in the USER role.
    BOOST_OUTCOME_TRY(object_session, start_session(TPM2_SE_HMAC, "TPM2_Certify"));
    BOOST_OUTCOME_TRY(sign_session, start_session(TPM2_SE_HMAC, "TPM2_Certify"));
    const TPMT_SIG_SCHEME scheme{TPM2_ALG_NULL, {}};
    TPM2B_ATTEST* raw_info = nullptr;
    TPMT_SIGNATURE* raw_sig = nullptr;
    const TSS2_RC rc =
        Esys_Certify(ctx->get(), tls_key.get(), ak.get(), object_session.get(), sign_session.get(),
                     ESYS_TR_NONE, &data, &scheme, &raw_info, &raw_sig);
    esys::Ptr<TPM2B_ATTEST> info(raw_info);
    esys::Ptr<TPMT_SIGNATURE> sig(raw_sig);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_Certify of the TLS key by the attestation key");
    BOOST_OUTCOME_TRY(signature, marshal_signature(*sig));
    return SignedAttestation{Bytes(info->attestationData, info->attestationData + info->size),
                             std::move(signature)};
  }

  result<void> use_approval(const PolicyApproval& a) {
    BOOST_OUTCOME_TRY(c, context());
    BOOST_OUTCOME_TRY(key, approver());
    if (a.pcr >= 24 || a.pcr_digest.size() != 32)
      return make_error("the approval names no valid PCR state");
    BOOST_OUTCOME_TRY(pub, tss_unmarshal(key->tpm_public, Tss2_MU_TPM2B_PUBLIC_Unmarshal, "TPM2B_PUBLIC"));
    BOOST_OUTCOME_TRY(sig, tss_unmarshal(a.signature, Tss2_MU_TPMT_SIGNATURE_Unmarshal, "approval signature"));
    ESYS_TR loaded_tr = ESYS_TR_NONE;
    // Loaded into the owner hierarchy: TPM2_VerifySignature with a key of the NULL hierarchy
    // returns a NULL ticket, which TPM2_PolicyAuthorize refuses (Part 3 §20.1).
    TSS2_RC rc = Esys_LoadExternal(c, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nullptr, &pub,
                                   ESYS_TR_RH_OWNER, &loaded_tr);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_LoadExternal of the approval key");
    Object loaded(c, loaded_tr, Object::Kind::transient);
    const auto approved = pcr_policy(a.pcr, a.pcr_digest);
    const auto a_hash = approval_digest(approved, tls_policy_ref(device_id));
    TPM2B_DIGEST digest{};
    digest.size = static_cast<UINT16>(a_hash.size());
    std::copy(a_hash.begin(), a_hash.end(), digest.buffer);
    TPMT_TK_VERIFIED* raw_ticket = nullptr;
    rc = Esys_VerifySignature(c, loaded.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest,
                              &sig, &raw_ticket);
    esys::Ptr<TPMT_TK_VERIFIED> ticket(raw_ticket);
    if (rc != TSS2_RC_SUCCESS)
      return fail(rc, "TPM2_VerifySignature of the fleet's approval (is it signed by " +
                          key->fingerprint() + " for " + device_id + "?)");
    approval = InstalledApproval{a, approved, *ticket};
    return outcome::success();
  }

  result<Bytes> sign(HashAlgorithm hash, ByteView digest) {
    BOOST_OUTCOME_TRY(need_keys());
    if (!approval)
      return make_error("the TLS key signs only in a PCR state the fleet approved, and no "
                        "approval has been received yet (the gateway attests first)");
    BOOST_OUTCOME_TRY(key, approver());
    BOOST_OUTCOME_TRY(c, context());
    BOOST_OUTCOME_TRY(session, start_session(TPM2_SE_POLICY, "the TLS key's policy"));
    // PolicyPCR with an empty digest: the TPM takes the PCR's current value.
    const TPM2B_DIGEST current{};
    const auto selection = sha256_selection(approval->approval.pcr);
    TSS2_RC rc = Esys_PolicyPCR(c, session.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                &current, &selection);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_PolicyPCR for the TLS key");
    TPM2B_DIGEST approved{};
    approved.size = static_cast<UINT16>(approval->approved.size());
    std::copy(approval->approved.begin(), approval->approved.end(), approved.buffer);
    const auto ref_digest = tls_policy_ref(device_id);
    TPM2B_NONCE ref{};
    ref.size = static_cast<UINT16>(ref_digest.size());
    std::copy(ref_digest.begin(), ref_digest.end(), ref.buffer);
    TPM2B_NAME name{};
    name.size = static_cast<UINT16>(key->name.size());
    std::copy(key->name.begin(), key->name.end(), name.name);
    rc = Esys_PolicyAuthorize(c, session.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                              &approved, &ref, &name, &approval->ticket);
    if (rc != TSS2_RC_SUCCESS) {
      if (without_number(rc) == TPM2_RC_VALUE)
        return fail(rc, "the TLS key refuses to sign: PCR " + std::to_string(approval->approval.pcr) +
                            " no longer holds the state the fleet approved (it was extended "
                            "since the last attestation); TPM2_PolicyAuthorize");
      return fail(rc, "TPM2_PolicyAuthorize for the TLS key");
    }
    rc = Esys_PolicyAuthValue(c, session.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_PolicyAuthValue for the TLS key");

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
    rc = Esys_Sign(c, tls_key.get(), session.get(), ESYS_TR_NONE, ESYS_TR_NONE, &in, &scheme,
                   &validation, &raw);
    esys::Ptr<TPMT_SIGNATURE> sig(raw);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_Sign with the TLS key");
    const auto& s = sig->signature.rsassa.sig;
    return Bytes(s.buffer, s.buffer + s.size);
  }

  result<void> extend_pcr(unsigned pcr, const Sha256Digest& digest) {
    BOOST_OUTCOME_TRY(c, context());
    TPML_DIGEST_VALUES values{};
    values.count = 1;
    values.digests[0].hashAlg = TPM2_ALG_SHA256;
    std::copy(digest.begin(), digest.end(), values.digests[0].digest.sha256);
    // PCRs 8–15 have an empty authorization value (PC Client Platform TPM Profile).
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
    BOOST_OUTCOME_TRY(session, start_session(TPM2_SE_HMAC, "TPM2_Quote"));
    const TPMT_SIG_SCHEME scheme{TPM2_ALG_NULL, {}};  // the AK's own scheme: ECDSA-SHA256
    const auto selection = sha256_selection(pcr);
    TPM2B_ATTEST* raw_quoted = nullptr;
    TPMT_SIGNATURE* raw_sig = nullptr;
    const TSS2_RC rc = Esys_Quote(ctx->get(), ak.get(), session.get(), ESYS_TR_NONE, ESYS_TR_NONE,
                                  &data, &scheme, &selection, &raw_quoted, &raw_sig);
    esys::Ptr<TPM2B_ATTEST> quoted(raw_quoted);
    esys::Ptr<TPMT_SIGNATURE> sig(raw_sig);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_Quote of PCR " + std::to_string(pcr));
    BOOST_OUTCOME_TRY(signature, marshal_signature(*sig));
    return SignedAttestation{
        Bytes(quoted->attestationData, quoted->attestationData + quoted->size),
        std::move(signature)};
  }

  // The EK: the provisioned persistent one if it is there, else re-created from the seed.
  result<Object> endorsement_key(Bytes* public_out) {
    BOOST_OUTCOME_TRY(c, context());
    ESYS_TR tr = ESYS_TR_NONE;
    if (Esys_TR_FromTPMPublic(c, kPersistentRsaEkHandle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                              &tr) == TSS2_RC_SUCCESS) {
      Object persistent(c, tr, Object::Kind::persistent);
      TPM2B_PUBLIC* raw = nullptr;
      const TSS2_RC rc =
          Esys_ReadPublic(c, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &raw, nullptr, nullptr);
      esys::Ptr<TPM2B_PUBLIC> pub(raw);
      if (rc == TSS2_RC_SUCCESS) {
        BOOST_OUTCOME_TRY(marshalled, marshal_public(*pub));
        auto parsed = parse_tpm_public(marshalled);
        if (parsed && check_ek_template(parsed.value())) {
          *public_out = std::move(marshalled);
          return persistent;
        }
      }
    }
    return create_primary(ESYS_TR_RH_ENDORSEMENT, ek_template(), "endorsement key", public_out);
  }

  result<Bytes> read_ek_certificate() {
    BOOST_OUTCOME_TRY(c, context());
    ESYS_TR tr = ESYS_TR_NONE;
    TSS2_RC rc = Esys_TR_FromTPMPublic(c, kRsaEkCertificateIndex, ESYS_TR_NONE, ESYS_TR_NONE,
                                       ESYS_TR_NONE, &tr);
    if (is_missing_handle(rc)) return Bytes{};
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "looking for the EK certificate in NV");
    Object index(c, tr, Object::Kind::persistent);
    TPM2B_NV_PUBLIC* raw_public = nullptr;
    rc = Esys_NV_ReadPublic(c, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &raw_public, nullptr);
    esys::Ptr<TPM2B_NV_PUBLIC> nv_public(raw_public);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_NV_ReadPublic of the EK certificate");
    // EK Credential Profile §2.2.1.5: readable with the index's own (empty) authorization or
    // the owner's.
    const auto attributes = nv_public->nvPublic.attributes;
    const ESYS_TR reader = (attributes & TPMA_NV_AUTHREAD) != 0 ? tr : ESYS_TR_RH_OWNER;
    Bytes certificate;
    const UINT16 size = nv_public->nvPublic.dataSize;
    for (UINT16 offset = 0; offset < size;) {
      const UINT16 chunk = std::min<UINT16>(kNvChunk, static_cast<UINT16>(size - offset));
      TPM2B_MAX_NV_BUFFER* raw = nullptr;
      rc = Esys_NV_Read(c, reader, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, chunk, offset, &raw);
      esys::Ptr<TPM2B_MAX_NV_BUFFER> data(raw);
      if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_NV_Read of the EK certificate");
      certificate.insert(certificate.end(), data->buffer, data->buffer + data->size);
      offset = static_cast<UINT16>(offset + chunk);
    }
    // Some TPMs pad the index after the DER: keep the certificate's own length (X.690 §8.1.3).
    if (certificate.size() >= 4 && certificate[0] == 0x30 && certificate[1] == 0x82) {
      const std::size_t length = 4 + ((std::size_t{certificate[2]} << 8) | certificate[3]);
      if (length <= certificate.size()) certificate.resize(length);
    }
    return certificate;
  }

  result<Endorsement> endorsement() {
    Endorsement e;
    // The EK is only read here (a transient one is flushed again when `ek` goes).
    if (auto ek = endorsement_key(&e.ek_tpm_public); !ek) return ek.error();
    BOOST_OUTCOME_TRY(certificate, read_ek_certificate());
    e.ek_certificate = std::move(certificate);
    return e;
  }

  result<Bytes> activate(const Credential& credential) {
    BOOST_OUTCOME_TRY(need_keys());
    BOOST_OUTCOME_TRY(blob, tss_unmarshal(credential.id_object, Tss2_MU_TPM2B_ID_OBJECT_Unmarshal,
                                          "credential (TPM2B_ID_OBJECT)"));
    BOOST_OUTCOME_TRY(secret, tss_unmarshal(credential.encrypted_secret,
                                            Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal,
                                            "credential secret (TPM2B_ENCRYPTED_SECRET)"));
    BOOST_OUTCOME_TRY(c, context());
    Bytes ek_public;
    BOOST_OUTCOME_TRY(ek, endorsement_key(&ek_public));
    // The AK in the ADMIN role: its authorization value through an HMAC session. The EK in the
    // USER role: its policy, PolicySecret(TPM_RH_ENDORSEMENT) with the (empty) endorsement
    // authorization (EK Credential Profile §B.3.2).
    BOOST_OUTCOME_TRY(ak_session, start_session(TPM2_SE_HMAC, "TPM2_ActivateCredential"));
    BOOST_OUTCOME_TRY(ek_session, start_session(TPM2_SE_POLICY, "the endorsement key's policy"));
    const TPM2B_NONCE no_nonce{};
    const TPM2B_DIGEST no_cp_hash{};
    const TPM2B_NONCE no_ref{};
    TPM2B_TIMEOUT* raw_timeout = nullptr;
    TPMT_TK_AUTH* raw_ticket = nullptr;
    TSS2_RC rc = Esys_PolicySecret(c, ESYS_TR_RH_ENDORSEMENT, ek_session.get(), ESYS_TR_PASSWORD,
                                   ESYS_TR_NONE, ESYS_TR_NONE, &no_nonce, &no_cp_hash, &no_ref, 0,
                                   &raw_timeout, &raw_ticket);
    esys::Ptr<TPM2B_TIMEOUT> timeout(raw_timeout);
    esys::Ptr<TPMT_TK_AUTH> ticket(raw_ticket);
    if (rc != TSS2_RC_SUCCESS) return fail(rc, "TPM2_PolicySecret(endorsement) for the EK");
    TPM2B_DIGEST* raw_info = nullptr;
    rc = Esys_ActivateCredential(c, ak.get(), ek.get(), ak_session.get(), ek_session.get(),
                                 ESYS_TR_NONE, &blob, &secret, &raw_info);
    esys::Ptr<TPM2B_DIGEST> info(raw_info);
    if (rc != TSS2_RC_SUCCESS)
      return fail(rc, "TPM2_ActivateCredential (a credential made for another TPM or another "
                      "attestation key cannot be activated here)");
    return Bytes(info->buffer, info->buffer + info->size);
  }

  // An approval the TPM has checked, and its ticket for TPM2_PolicyAuthorize.
  struct InstalledApproval {
    PolicyApproval approval;
    Sha256Digest approved;
    TPMT_TK_VERIFIED ticket;
  };

  config::IdentityConfig cfg;
  fs::path state_dir;
  std::string device_id;
  fs::path approval_key_file;
  std::unique_ptr<esys::Context> ctx;
  Object tls_key;  // persistent handle metadata, cached after the first lookup
  Object ak;
  std::optional<TPM2B_AUTH> auth;
  std::optional<ApprovalKey> approval_key;
  std::optional<InstalledApproval> approval;
  bool reconnect = false;
};

TpmIdentity::TpmIdentity(const config::SecureLinkConfig& cfg)
    : cfg_(cfg.identity), tpm_(std::make_unique<Tpm>(cfg)), owner_(std::make_unique<OwnerThread>()) {}

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

result<int> TpmIdentity::remove_keys() {
  return owner_->run([this] { return tpm_->remove_keys(); });
}

result<Endorsement> TpmIdentity::endorsement() {
  return owner_->run([this] { return tpm_->endorsement(); });
}

result<Bytes> TpmIdentity::activate_credential(const Credential& credential) {
  return owner_->run([&] { return tpm_->activate(credential); });
}

result<void> TpmIdentity::use_approval(const PolicyApproval& approval) {
  return owner_->run([&] { return tpm_->use_approval(approval); });
}

result<SignedAttestation> TpmIdentity::certify_tls_key(ByteView qualifying_data) {
  return owner_->run([&] { return tpm_->certify(qualifying_data); });
}

result<Bytes> TpmIdentity::sign(HashAlgorithm hash, ByteView digest) {
  return owner_->run([&] { return tpm_->sign(hash, digest); });
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
