// The trust protocol's messages as each side reads the other's lines: what a malformed line
// gets (a refusal naming the field, never an exception), and that what one side writes the other
// reads back. tests/fuzz/fuzz_trust_protocol.cpp feeds the same parsers arbitrary bytes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "guardian/common/time_format.hpp"
#include "guardian/secure_link/trust_protocol.hpp"

namespace guardian::secure_link {
namespace {

using nlohmann::json;

AttestRequest attest_request() {
  AttestRequest r;
  r.device = "store-042";
  r.nonce = Bytes(kNonceSize, 0xab);
  r.quote = {Bytes{1, 2, 3}, Bytes{4, 5}};
  r.event_log = {{MeasurementKind::gateway, "/usr/bin/guardian", sha256("binary")},
                 {MeasurementKind::config, "/etc/guardian/guardian.yaml", sha256("config")}};
  r.lifetime = std::chrono::seconds{3600};
  return r;
}

TEST(TrustProtocol, ARequestReadsBackAsItWasWritten) {
  const auto line = to_line(attest_request());
  auto parsed = parse_trust_request(line);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  const auto* a = std::get_if<AttestRequest>(&parsed.value());
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->device, "store-042");
  EXPECT_EQ(a->nonce, Bytes(kNonceSize, 0xab));
  EXPECT_EQ(a->quote.signature, (Bytes{4, 5}));
  ASSERT_EQ(a->event_log.size(), 2u);
  EXPECT_EQ(a->event_log[1].kind, MeasurementKind::config);
  EXPECT_EQ(a->lifetime, std::chrono::seconds{3600});
  EXPECT_TRUE(std::holds_alternative<PingRequest>(parse_trust_request(R"({"op":"ping"})").value()));
}

TEST(TrustProtocol, AMalformedRequestIsRefusedNamingWhatIsWrong) {
  const auto refused = [](std::string_view line) {
    auto r = parse_trust_request(line);
    EXPECT_FALSE(r) << line;
    if (r) return std::string{};
    EXPECT_EQ(r.error().code, make_error_code(TrustRefusal::malformed_request)) << line;
    return r.error().message;
  };
  EXPECT_NE(refused("not json").find("one JSON object"), std::string::npos);
  EXPECT_NE(refused("[1,2]").find("one JSON object"), std::string::npos);
  EXPECT_NE(refused(R"({"op":"launch"})").find("unknown op"), std::string::npos);
  EXPECT_NE(refused(R"({"op":"nonce"})").find("\"device\""), std::string::npos);
  EXPECT_NE(refused(R"({"op":"nonce","device":42})").find("must be a string"), std::string::npos);
  auto j = json::parse(to_line(attest_request()));
  j["nonce"] = "xyz";
  EXPECT_NE(refused(j.dump()).find("\"nonce\" must be 64 hexadecimal digits"), std::string::npos);
  j = json::parse(to_line(attest_request()));
  j["quote"]["attest"] = "@@@";
  EXPECT_NE(refused(j.dump()).find("\"attest\" is not base64"), std::string::npos);
  j = json::parse(to_line(attest_request()));
  j["lifetime_s"] = -5;
  EXPECT_NE(refused(j.dump()).find("lifetime_s"), std::string::npos);
  j = json::parse(to_line(attest_request()));
  j["event_log"][0]["kind"] = "kernel";
  EXPECT_NE(refused(j.dump()).find("unknown kind"), std::string::npos);
}

TEST(TrustProtocol, ARefusalBecomesAnErrorWithItsReasonAsTheCode) {
  auto refused = parse_trust_response(
      R"({"ok":false,"error":"measurement_refused","message":"gateway has SHA-256 ab…"})", "trust:7443");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(TrustRefusal::measurement_refused));
  EXPECT_NE(refused.error().message.find("trust:7443 refused: measurement_refused: gateway has"),
            std::string::npos);
  // An error the device does not know yet is "unavailable", not a crash.
  EXPECT_EQ(parse_trust_response(R"({"ok":false,"error":"from_the_future"})", "t").error().code,
            make_error_code(TrustRefusal::unavailable));
  EXPECT_FALSE(parse_trust_response(R"({"certificate":"…"})", "t"));
}

TEST(TrustProtocol, ANonceComesPlainOrAsACredentialAndTheCertificateWithItsApproval) {
  NonceResponse plain;
  plain.nonce = Bytes(kNonceSize, 7);
  plain.expires = Timestamp{std::chrono::milliseconds{1'700'000'000'000}};
  auto back = nonce_response_from(to_json(plain));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(back.value().nonce, plain.nonce);
  EXPECT_FALSE(back.value().credential);
  EXPECT_EQ(back.value().expires, plain.expires);

  NonceResponse sealed;
  sealed.credential = Credential{Bytes(68, 1), Bytes(258, 2)};
  sealed.expires = plain.expires;
  back = nonce_response_from(to_json(sealed));
  ASSERT_TRUE(back) << back.error().describe();
  ASSERT_TRUE(back.value().credential);
  EXPECT_EQ(back.value().credential->encrypted_secret, Bytes(258, 2));
  EXPECT_TRUE(back.value().nonce.empty());

  AttestResponse issued;
  issued.certificate_pem = "-----BEGIN CERTIFICATE-----\n…";
  issued.serial = "0a";
  issued.approval = PolicyApproval{13, Bytes(32, 3), Bytes{9, 9}};
  auto read = attest_response_from(to_json(issued));
  ASSERT_TRUE(read) << read.error().describe();
  ASSERT_TRUE(read.value().approval);
  EXPECT_EQ(read.value().approval->pcr, 13u);
  EXPECT_EQ(read.value().approval->pcr_digest, Bytes(32, 3));
  auto j = to_json(issued);
  j["approval"]["pcr"] = 99;
  EXPECT_FALSE(attest_response_from(j));
}

}  // namespace
}  // namespace guardian::secure_link
