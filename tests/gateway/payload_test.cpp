#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "guardian/common/time_format.hpp"
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
