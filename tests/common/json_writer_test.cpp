#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "guardian/common/json_writer.hpp"

namespace guardian {
namespace {

std::string str(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(JsonWriter, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(str("plain"), "\"plain\"");
  EXPECT_EQ(str("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(str("l1\nl2\r\t"), R"("l1\nl2\r\t")");
  EXPECT_EQ(str(std::string_view("\x00\x1f", 2)), R"("\u0000\u001f")");
}

TEST(JsonWriter, StringsRoundTripThroughAnIndependentParser) {
  std::string all;
  for (int c = 0; c < 128; ++c) all.push_back(static_cast<char>(c));
  all += "°C µs";
  EXPECT_EQ(nlohmann::json::parse(str(all)).get<std::string>(), all);
}

TEST(JsonWriter, NumbersUseShortestRoundTripForm) {
  std::string out;
  append_json_number(out, 0.1);
  EXPECT_EQ(out, "0.1");
  out.clear();
  append_json_number(out, 93.25);
  EXPECT_EQ(out, "93.25");
  out.clear();
  append_json_number(out, std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(out, "-9223372036854775808");
  out.clear();
  append_json_number(out, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(out, "18446744073709551615");
}

TEST(JsonWriter, NonFiniteNumbersBecomeNull) {
  std::string out;
  append_json_number(out, std::numeric_limits<double>::quiet_NaN());
  out.push_back(',');
  append_json_number(out, std::numeric_limits<double>::infinity());
  EXPECT_EQ(out, "null,null");
}

TEST(JsonWriter, WritesEveryValueAlternative) {
  std::string out;
  for (const Value& v : {Value{}, Value{true}, Value{std::int64_t{-3}}, Value{std::uint64_t{7}},
                         Value{1.5}, Value{std::string("on")}}) {
    append_json_value(out, v);
    out.push_back(' ');
  }
  EXPECT_EQ(out, "null true -3 7 1.5 \"on\" ");
}

}  // namespace
}  // namespace guardian
