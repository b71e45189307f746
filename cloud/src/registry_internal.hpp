#pragma once
/// \file
/// What the two registry stores (sqlite_registry.cpp, postgresql_registry.cpp) share: the
/// factories Registry::open dispatches to, and the rules that must read the same in both.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "guardian/cloud/registry.hpp"

namespace guardian::cloud::detail {

[[nodiscard]] result<std::unique_ptr<Registry>> open_sqlite(const std::string& path);
[[nodiscard]] result<std::unique_ptr<Registry>> open_postgresql(const std::string& uri);

/// The tables and indexes of schema version 3, in one store's types: `integer` for 64-bit
/// integers (SQLite "INTEGER", PostgreSQL "BIGINT"), `blob` for bytes ("BLOB", "BYTEA").
[[nodiscard]] std::string registry_schema(std::string_view integer, std::string_view blob);

/// Timestamps are stored as milliseconds since the epoch (BIGINT / INTEGER).
[[nodiscard]] inline std::int64_t ms(Timestamp t) { return t.time_since_epoch().count(); }
[[nodiscard]] inline Timestamp from_ms(std::int64_t v) { return Timestamp{std::chrono::milliseconds{v}}; }

/// The revocable keys of a device, as (kind, SHA-256 hex of the SubjectPublicKeyInfo): its TLS
/// key ("tls") and, for a TPM, its endorsement key ("ek").
[[nodiscard]] std::vector<std::pair<std::string, std::string>> device_key_hashes(
    const secure_link::Bytes& tls_public_der, const secure_link::Bytes& ek_tpm_public);

/// The refusal of an enrollment whose key was revoked with `device`.
[[nodiscard]] Error revoked_key_error(const std::string& kind, const std::string& device,
                                      std::int64_t revoked_ms, const std::string& reason);
/// The refusal of a second enrollment of `id` without --replace.
[[nodiscard]] std::string already_enrolled_message(const std::string& id);

/// DeviceRecord::running as stored (a JSON object) and back; garbage reads as empty.
[[nodiscard]] std::string running_to_text(const std::map<std::string, std::string>& running);
[[nodiscard]] std::map<std::string, std::string> running_from_text(const std::string& text);

/// CrlRecord as stored in the settings table and back.
[[nodiscard]] std::string crl_to_text(const CrlRecord& crl);
[[nodiscard]] result<CrlRecord> crl_from_text(const std::string& text);

/// The "backend" column.
[[nodiscard]] std::string backend_text(config::IdentityBackend backend);
[[nodiscard]] config::IdentityBackend backend_from_text(const std::string& text);

/// Nonces are kept this long after they expire (a late reuse is reported as a reuse).
inline constexpr std::int64_t kNonceKeepMs = 3600 * 1000;

}  // namespace guardian::cloud::detail
