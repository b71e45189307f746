#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "guardian/common/time_format.hpp"
#include "guardian/gateway/gap_report.hpp"
#include "guardian/gateway/payload.hpp"

namespace guardian::gateway {
namespace {

using namespace std::chrono;

Reading reading(std::string point, Value v, Quality q, Timestamp ts, std::string unit = "degC") {
  return Reading{"espresso-1", std::move(point), std::move(v), std::move(unit), q, ts, {}};
}

TEST(Payload, TelemetryEnvelopeParsesWithEveryContractField) {
  const Timestamp t0 = sys_days{2026y / November / 26} + hours{8};
  std::vector<Reading> rs{reading("boiler_temp", 93.5, Quality::good, t0),
                          reading("pump_on", true, Quality::good, t0 + milliseconds{5}, "")};
  rs.push_back(reading("pressure", Value{}, Quality::comm_fail, t0 + milliseconds{9}, "bar"));
  rs.back().error = "timeout";
  const auto m = encode_telemetry("espresso-1", rs);
  EXPECT_EQ(m.kind, MessageKind::telemetry);
  EXPECT_EQ(m.count, 3u);
  EXPECT_EQ(m.first_ts, t0);
  EXPECT_EQ(m.last_ts, t0 + milliseconds{9});

  const auto j = nlohmann::json::parse(envelope("store-042", 17, m.body));
  EXPECT_EQ(j["v"], 1);
  EXPECT_EQ(j["device"], "store-042");
  EXPECT_EQ(j["seq"], 17);
  EXPECT_EQ(j["source"], "espresso-1");
  ASSERT_EQ(j["readings"].size(), 3u);
  EXPECT_EQ(j["readings"][0]["name"], "boiler_temp");
  EXPECT_EQ(j["readings"][0]["value"], 93.5);
  EXPECT_EQ(j["readings"][0]["unit"], "degC");
  EXPECT_EQ(j["readings"][0]["quality"], "good");
  EXPECT_EQ(j["readings"][0]["ts"], "2026-11-26T08:00:00.000Z");
  EXPECT_FALSE(j["readings"][1].contains("unit"));
  EXPECT_EQ(j["readings"][1]["value"], true);
  EXPECT_TRUE(j["readings"][2]["value"].is_null());
  EXPECT_EQ(j["readings"][2]["quality"], "comm_fail");
  EXPECT_EQ(j["readings"][2]["error"], "timeout");
}

TEST(Payload, RecordCarriesTypeTimestampAndFields) {
  const Timestamp t0 = sys_days{2026y / November / 26} + hours{9};
  Record r{"espresso-1", "shot", t0,
           {reading("shot_duration", 27.5, Quality::good, t0, "s"),
            reading("shot_volume", std::int64_t{36}, Quality::good, t0, "ml")}};
  const auto m = encode_record(r);
  EXPECT_EQ(m.kind, MessageKind::record);
  EXPECT_EQ(m.priority, Priority::record);
  const auto j = nlohmann::json::parse(envelope("d", 1, m.body));
  EXPECT_EQ(j["type"], "shot");
  EXPECT_EQ(j["ts"], "2026-11-26T09:00:00.000Z");
  ASSERT_EQ(j["fields"].size(), 2u);
  EXPECT_EQ(j["fields"][1]["value"], 36);
}

TEST(Payload, NamesWithQuotesAndControlCharactersStayValidJson) {
  std::vector<Reading> rs{reading("we\"ird\nname", std::string("a\\b"), Quality::bad, Timestamp{})};
  const auto j = nlohmann::json::parse(envelope("dev\"1", 2, encode_telemetry("src\t", rs).body));
  EXPECT_EQ(j["device"], "dev\"1");
  EXPECT_EQ(j["source"], "src\t");
  EXPECT_EQ(j["readings"][0]["name"], "we\"ird\nname");
  EXPECT_EQ(j["readings"][0]["value"], "a\\b");
}

}  // namespace
}  // namespace guardian::gateway

namespace guardian::gateway {
namespace {

std::vector<Reading> many_readings(int n) {
  const Timestamp t0 = std::chrono::sys_days{std::chrono::year{2026} / 11 / 26};
  std::vector<Reading> rs;
  for (int i = 0; i < n; ++i)
    rs.push_back(Reading{"meter-1", "p\"," + std::to_string(i) + "[]{}", 230.0 + i, "V",
                         Quality::good, t0 + std::chrono::milliseconds{i}, {}});
  return rs;
}

TEST(Payload, ABodySplitToFitKeepsItsLeadingMembersAndEveryElementInOrderByteForByte) {
  // Names with quotes, commas and brackets: the split must not cut inside a string.
  const auto m = encode_telemetry("meter-1", many_readings(100));
  const auto parts = split_body(m.body, 1000);
  ASSERT_TRUE(parts);
  ASSERT_GT(parts->size(), 5u);
  std::vector<nlohmann::json> elements;
  for (const auto& part : *parts) {
    EXPECT_LE(part.size(), 1000u);
    const auto j = nlohmann::json::parse("{" + part);
    EXPECT_EQ(j.at("source"), "meter-1");
    for (const auto& r : j.at("readings")) elements.push_back(r);
  }
  const auto whole = nlohmann::json::parse("{" + m.body);
  EXPECT_EQ(nlohmann::json(elements), whole.at("readings"));
  // A body that fits comes back as it is.
  const auto one = split_body(m.body, m.body.size());
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(one->front(), m.body);
}

TEST(Payload, ARecordSplitsBetweenItsFieldsAndAnElementLargerThanTheBoundCannotBeSplit) {
  Record r{"espresso-1", "shot", Timestamp{}, many_readings(40)};
  const auto m = encode_record(r);
  const auto parts = split_body(m.body, 600);
  ASSERT_TRUE(parts);
  for (const auto& part : *parts) {
    const auto j = nlohmann::json::parse("{" + part);
    EXPECT_EQ(j.at("type"), "shot");
    EXPECT_FALSE(j.at("fields").empty());
  }
  EXPECT_FALSE(split_body(m.body, 60));
  EXPECT_FALSE(split_body("\"source\":\"x\",\"value\":" + std::string(500, '1') + "}", 100));
}

TEST(Payload, AGapMessageSplitsBetweenItsPointsAndKeepsItsSeqsInEveryPart) {
  DroppedData d;
  d.source = "meter-1";
  d.reason = DropReason::refused_by_broker;
  d.count = 100;
  d.messages = 2;
  d.seqs = {31, 40};
  for (int i = 0; i < 64; ++i) d.names.push_back("point_with_a_long_name_" + std::to_string(i));
  const auto body = encode_gap(d).body;
  const auto parts = split_body(body, 800);
  ASSERT_TRUE(parts);
  ASSERT_GT(parts->size(), 2u);
  std::size_t names = 0;
  for (const auto& part : *parts) {
    const auto j = nlohmann::json::parse("{" + part);
    EXPECT_EQ(j.at("seqs"), nlohmann::json::array({31, 40}));
    names += j.at("points").size();
  }
  EXPECT_EQ(names, 64u);
  const auto decoded = decode_gap(body);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->seqs, (std::vector<std::uint64_t>{31, 40}));
}

TEST(Payload, APartOfASplitMessageSaysWhichOfHowMany) {
  const auto j = nlohmann::json::parse(
      envelope("store-042", 9, "\"source\":\"m\",\"readings\":[]}", MessagePart{2, 3}));
  EXPECT_EQ(j.at("seq"), 9);
  EXPECT_EQ(j.at("part"), 2);
  EXPECT_EQ(j.at("parts"), 3);
  const auto whole =
      nlohmann::json::parse(envelope("store-042", 9, "\"source\":\"m\",\"readings\":[]}"));
  EXPECT_FALSE(whole.contains("part"));
  EXPECT_LE(envelope("store-042", 18446744073709551615ull, "}", MessagePart{999999999, 999999999})
                .size(),
            envelope_overhead("store-042") + 1);
}

}  // namespace
}  // namespace guardian::gateway
