// The compact payload (v2): what it costs per reading, and that the reference decoder turns it
// back into exactly the v1 document.
#include "guardian/gateway/compact_payload.hpp"

#include <gtest/gtest.h>

#include <random>

#include <nlohmann/json.hpp>

#include "guardian/gateway/payload.hpp"

namespace guardian::gateway {
namespace {

using namespace std::chrono_literals;
const Timestamp kT0{std::chrono::milliseconds{1'795'680'000'000}};

// One poll of a 100-register meter: uint16 values that drift, all read at once.
std::vector<Reading> poll(int registers, Timestamp ts, std::mt19937& rng) {
  std::vector<Reading> rs;
  for (int i = 0; i < registers; ++i)
    rs.push_back(Reading{"meter-1", "reg_" + std::to_string(i),
                         std::uint64_t{2000 + rng() % 400}, i % 3 == 0 ? "V" : "",
                         Quality::good, ts, {}});
  return rs;
}

// The v2 document of `readings` decoded back, parsed; the schema message is fed first.
nlohmann::json round_trip(const std::vector<Reading>& readings, bool deflate) {
  SchemaRegistry registry;
  bool changed = false;
  const auto& schema = registry.learn("meter-1", readings, changed);
  EXPECT_TRUE(changed);
  CompactDecoder decoder;
  auto schema_doc = envelope("store-042", 1, encode_schema("meter-1", schema).body, {}, 2);
  auto data_doc =
      envelope("store-042", 2, encode_telemetry_v2("meter-1", schema, readings).body, {}, 2);
  if (deflate) {
    schema_doc = deflate_bytes(schema_doc);
    data_doc = deflate_bytes(data_doc);
  }
  const auto none = decoder.decode(schema_doc);
  EXPECT_TRUE(none && !none.value());
  auto decoded = decoder.decode(data_doc);
  EXPECT_TRUE(decoded) << decoded.error().message;
  return nlohmann::json::parse(decoded.value().value());
}

TEST(CompactPayload, DecodesBackToExactlyTheV1DocumentOfTheSameReadings) {
  std::mt19937 rng(7);
  auto readings = poll(100, kT0, rng);
  // Everything v1 can say: a float, a bool, a label, a comm_fail with its error, a later time,
  // a reading out of schema order.
  readings[3].value = 231.7;
  readings[4].value = true;
  readings[5].value = std::string("brewing");
  readings[6].value = Value{};
  readings[6].quality = Quality::comm_fail;
  readings[6].error = "no answer from unit 1";
  readings[7].quality = Quality::stale;
  for (std::size_t i = 50; i < 100; ++i) readings[i].source_ts = kT0 + 250ms;
  for (const bool deflate : {false, true}) {
    const auto v1 = nlohmann::json::parse(envelope("store-042", 2, encode_telemetry("meter-1", readings).body));
    EXPECT_EQ(round_trip(readings, deflate), v1) << "deflate " << deflate;
  }
  // Out of schema order (a sparse poll after deadband suppression).
  SchemaRegistry registry;
  bool changed = false;
  registry.learn("meter-1", readings, changed);
  std::vector<Reading> sparse{readings[9], readings[2], readings[40]};
  const auto& schema = registry.learn("meter-1", sparse, changed);
  EXPECT_FALSE(changed);
  const auto body = encode_telemetry_v2("meter-1", schema, sparse).body;
  EXPECT_NE(body.find("\"i\":[9,2,40]"), std::string::npos) << body;
}

TEST(CompactPayload, AReadingCostsAFewBytesWhereV1CostsEighty) {
  std::mt19937 rng(11);
  const auto readings = poll(100, kT0, rng);
  SchemaRegistry registry;
  bool changed = false;
  const auto& schema = registry.learn("meter-1", readings, changed);
  const auto v1 = envelope("store-042", 1234567, encode_telemetry("meter-1", readings).body);
  const auto v2 = envelope("store-042", 1234567, encode_telemetry_v2("meter-1", schema, readings).body,
                           {}, 2);
  const auto v2z = deflate_bytes(v2);
  const auto per = [](const std::string& s) { return static_cast<double>(s.size()) / 100.0; };
  std::cout << "bytes per reading (100 uint16 registers, one poll, envelope included): v1 "
            << per(v1) << ", v2 " << per(v2) << ", v2+deflate " << per(v2z) << "\n";
  EXPECT_GT(per(v1), 60.0);
  EXPECT_LE(per(v2), 6.5);
  EXPECT_LT(v2z.size(), v2.size());
  // Nothing but the values, in schema order: no names, units, qualities or times per reading.
  EXPECT_EQ(v2.find("reg_"), std::string::npos);
  EXPECT_EQ(v2.find("\"i\""), std::string::npos);
  EXPECT_EQ(v2.find("\"g\""), std::string::npos);
  EXPECT_EQ(v2.find("\"q\""), std::string::npos);
}

TEST(CompactPayload, ASchemaGrowsWithNewPointsUnderANewIdAndOldIdsStillDecode) {
  std::mt19937 rng(3);
  auto first = poll(3, kT0, rng);
  SchemaRegistry registry;
  bool changed = false;
  const std::string id1 = registry.learn("meter-1", first, changed).id;
  CompactDecoder decoder;
  ASSERT_TRUE(decoder.decode(envelope("d", 1, encode_schema("meter-1", registry.learn("meter-1", first, changed)).body, {}, 2)));
  const auto old_doc = envelope("d", 2, encode_telemetry_v2("meter-1", registry.learn("meter-1", first, changed), first).body, {}, 2);
  auto more = first;
  more.push_back(Reading{"meter-1", "energy", 12.5, "kWh", Quality::good, kT0, {}});
  const auto& grown = registry.learn("meter-1", more, changed);
  EXPECT_TRUE(changed);
  EXPECT_NE(grown.id, id1);
  EXPECT_EQ(grown.points.size(), 4u);
  ASSERT_TRUE(decoder.decode(envelope("d", 3, encode_schema("meter-1", grown).body, {}, 2)));
  EXPECT_TRUE(decoder.decode(old_doc)) << "a message of the old schema still decodes";
  const auto decoded = decoder.decode(envelope("d", 4, encode_telemetry_v2("meter-1", grown, more).body, {}, 2));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(nlohmann::json::parse(*decoded.value())["readings"][3]["name"], "energy");
  // Unknown schema: a clear error.
  CompactDecoder fresh;
  const auto unknown = fresh.decode(old_doc);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("schema " + id1), std::string::npos);
}

TEST(CompactPayload, AV2BodySplitToFitDecodesToTheSameReadings) {
  std::mt19937 rng(5);
  auto readings = poll(100, kT0, rng);
  for (std::size_t i = 30; i < 100; ++i) readings[i].source_ts = kT0 + 100ms;
  readings[42].quality = Quality::bad;
  readings[42].error = "exception 02";
  SchemaRegistry registry;
  bool changed = false;
  const auto& schema = registry.learn("meter-1", readings, changed);
  const auto body = encode_telemetry_v2("meter-1", schema, readings).body;
  const auto parts = split_v2_body(body, 150);
  ASSERT_TRUE(parts);
  ASSERT_GT(parts->size(), 3u);
  CompactDecoder decoder;
  ASSERT_TRUE(decoder.decode(envelope("d", 1, encode_schema("meter-1", schema).body, {}, 2)));
  nlohmann::json all = nlohmann::json::array();
  for (std::size_t p = 0; p < parts->size(); ++p) {
    EXPECT_LE((*parts)[p].size(), 150u);
    const auto decoded = decoder.decode(envelope("d", 2, (*parts)[p],
                                                 MessagePart{static_cast<std::uint32_t>(p + 1),
                                                             static_cast<std::uint32_t>(parts->size())},
                                                 2));
    ASSERT_TRUE(decoded) << decoded.error().message;
    const auto document = nlohmann::json::parse(*decoded.value());
    for (const auto& r : document.at("readings")) all.push_back(r);
  }
  const auto v1 = nlohmann::json::parse("{" + encode_telemetry("meter-1", readings).body);
  EXPECT_EQ(all, v1["readings"]);
}

TEST(CompactPayload, InflateRefusesABombAndGarbage) {
  const std::string big(1 << 20, 'x');
  const auto bomb = deflate_bytes(big);
  EXPECT_LT(bomb.size(), 4096u);
  EXPECT_FALSE(inflate_bytes(bomb, 64 * 1024));
  EXPECT_TRUE(inflate_bytes(bomb, 2 << 20));
  EXPECT_FALSE(inflate_bytes("\x78\x9c garbage", 1024));
  CompactDecoder decoder;
  EXPECT_FALSE(decoder.decode("not json"));
}

}  // namespace
}  // namespace guardian::gateway
