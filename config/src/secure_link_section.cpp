// Reading the top-level `secure_link:` section (secure_link_config.hpp, docs/configuration.md).

#include <algorithm>
#include <array>

#include "sections.hpp"

namespace guardian::config::detail {
namespace {

using namespace std::chrono_literals;
using std::chrono::days;

constexpr std::array<Choice<IdentityBackend>, 2> kBackends{
    {{"tpm", IdentityBackend::tpm}, {"software", IdentityBackend::software}}};

// TPM 2.0 Part 2 §7.6 / TCG "Registry of Reserved TPM 2.0 Handles": persistent objects of the
// owner hierarchy live in 0x81000000–0x817FFFFF (0x81010000 upwards is the endorsement range:
// not ours, hence the narrower default range below in the documentation).
constexpr std::int64_t kPersistentFirst = 0x81000000;
constexpr std::int64_t kPersistentLast = 0x817FFFFF;

// PC Client Platform TPM Profile: PCRs 0–7 hold the firmware's measurements (never zero when
// the gateway starts), 16 and 23 can be reset by any program at locality 0 (which would let it
// rewind the gateway's measurements), 17–22 are for dynamic launch. 8–15 remain (see
// kDefaultMeasurementPcr for which of them a boot chain may use).
ScalarParser<int> measurement_pcr() {
  static const std::string kExpected = "a PCR from 8 to 15 (e.g. 13)";
  return {kExpected, [](std::string_view text) -> result<int> {
            const auto value = integer_between(0, 23).parse(text);
            if (!value) return expected_but_got(kExpected, text);
            if (value.value() == 16 || value.value() == 23)
              return expected_but_got(kExpected, text,
                                      "any program can reset PCR " + std::string(text) +
                                          " and rewind the measurements");
            if (value.value() < 8 || value.value() > 15)
              return expected_but_got(kExpected, text,
                                      value.value() < 8
                                          ? "PCRs 0-7 hold the firmware's measurements"
                                          : "PCRs 17-22 belong to dynamic launch (locality 4)");
            return value.value();
          }};
}

// The TCTI modules tpm2-tss 3.2 ships (Tss2_TctiLdr_Initialize "name:configuration").
constexpr std::array<std::string_view, 7> kTctis{"device", "swtpm", "mssim", "tabrmd",
                                                 "cmd",    "pcap",  "libtpms"};

ScalarParser<std::string> tcti() {
  static const std::string kExpected =
      "a TCTI such as device:/dev/tpmrm0 or swtpm:host=127.0.0.1,port=2321";
  return {kExpected, [](std::string_view text) -> result<std::string> {
            const std::string_view name = text.substr(0, text.find(':'));
            if (std::find(kTctis.begin(), kTctis.end(), name) == kTctis.end())
              return make_error("TCTI '" + std::string(text) + "': " + not_one_of(name, kTctis).message +
                                " before the ':'");
            return std::string(text);
          }};
}

// Handles are written and documented in hex, so the range is said in hex too.
ScalarParser<std::uint32_t> persistent_handle() {
  static const std::string kExpected =
      "a persistent handle between 0x81000000 and 0x817FFFFF, e.g. 0x81000101";
  return {kExpected, [](std::string_view text) -> result<std::uint32_t> {
            const auto value = integer_in<std::int64_t>(kPersistentFirst, kPersistentLast).parse(text);
            if (!value) return expected_but_got(kExpected, text);
            return static_cast<std::uint32_t>(value.value());
          }};
}

struct HostPort {
  std::string host;
  std::uint16_t port;
};

ScalarParser<HostPort> host_port() {
  static constexpr std::string_view kExpected = "host:port, e.g. trust.example.net:7443";
  return {std::string(kExpected), [](std::string_view text) -> result<HostPort> {
            const auto colon = text.rfind(':');
            if (colon == std::string_view::npos || colon == 0)
              return expected_but_got(kExpected, text, "the port is required");
            std::string_view host = text.substr(0, colon);
            if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
            if (host.empty() || host.find_first_of("/ ") != std::string_view::npos)
              return expected_but_got(kExpected, text, "the host is missing or malformed");
            const auto port = integer_between(1, 65535).parse(text.substr(colon + 1));
            if (!port) return expected_but_got(kExpected, text, "the port must be between 1 and 65535");
            return HostPort{std::string(host), static_cast<std::uint16_t>(port.value())};
          }};
}

void read_identity(ObjectReader& r, IdentityConfig& id) {
  r.read("backend", id.backend, one_of(kBackends));
  r.read("tcti", id.tcti, tcti());
  const bool signing = r.read("signing_key_handle", id.signing_key_handle, persistent_handle());
  const bool attestation =
      r.read("attestation_key_handle", id.attestation_key_handle, persistent_handle());
  if ((signing || attestation) && id.signing_key_handle == id.attestation_key_handle)
    r.error(attestation ? "attestation_key_handle" : "signing_key_handle",
            "the two keys need two different persistent handles");
  if (id.backend == IdentityBackend::software)
    for (const char* key : {"tcti", "signing_key_handle", "attestation_key_handle"})
      if (r.has(key))
        r.error(key, "only applies to backend: tpm (the software backend keeps its keys in "
                     "secure_link.state_dir)");
}

void read_trust_service(ObjectReader& r, TrustServiceConfig& t, IdentityBackend backend) {
  if (auto address = r.required("address", host_port())) {
    t.host = std::move(address->host);
    t.port = address->port;
  }
  if (auto ca = r.required("ca_file", file_path())) t.ca_file = std::move(*ca);
  r.read("server_name", t.server_name, text());
  r.read("timeout", t.timeout, duration_in(1s, 5min));
  // The TPM keys' policy names the approval key: a TPM identity cannot be made without it.
  auto key = backend == IdentityBackend::tpm ? r.required("approval_key", file_path())
                                             : r.optional("approval_key", file_path());
  if (key) t.approval_key = std::move(*key);
}

void read_broker(ObjectReader& r, TunnelBrokerConfig& b) {
  if (auto ca = r.required("ca_file", file_path())) b.ca_file = std::move(*ca);
  r.read("server_name", b.server_name, text());
}

void read_attestation(ObjectReader& r, AttestationConfig& a) {
  r.read("pcr", a.pcr, measurement_pcr());
  if (auto image = r.optional("firmware_image", file_path())) a.firmware_image = std::move(*image);
  r.read("event_log", a.event_log, file_path());
}

void read_certificate(ObjectReader& r, CertificateConfig& c) {
  r.read("lifetime", c.lifetime, duration_in(10s, days{30}));
  if (auto fraction = r.optional("renew_at", real())) {
    // Renewing too early wastes attestations; too late leaves no time for retries.
    if (*fraction < 0.1 || *fraction > 0.95)
      r.error("renew_at", "must be a fraction of the lifetime between 0.1 and 0.95, e.g. 0.67");
    else
      c.renew_at = *fraction;
  }
  read_delay_range(r, "retry", c.retry_min, c.retry_max, 100ms, days{1});
}

}  // namespace

void read_secure_link(ObjectReader& r, SecureLinkConfig& s) {
  r.section("identity", Presence::optional, [&](ObjectReader& i) { read_identity(i, s.identity); });
  r.read("state_dir", s.state_dir, file_path());
  r.section("trust_service", Presence::required,
            [&](ObjectReader& t) { read_trust_service(t, s.trust_service, s.identity.backend); });
  r.section("broker", Presence::required, [&](ObjectReader& b) { read_broker(b, s.broker); });
  r.section("attestation", Presence::optional,
            [&](ObjectReader& a) { read_attestation(a, s.attestation); });
  r.section("certificate", Presence::optional,
            [&](ObjectReader& c) { read_certificate(c, s.certificate); });
}

}  // namespace guardian::config::detail
