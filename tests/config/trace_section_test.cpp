// The `traces` section: values, defaults, and located errors for what is wrong.
#include <gtest/gtest.h>

#include "config_expectations.hpp"

namespace guardian::config::testing {
namespace {

using namespace std::chrono_literals;

/// A Modbus device `dev` (t, state, pump, model) and a stream source `machine` (p, label; records
/// `shot`), then `traces` from line 19.
std::string with_traces(std::string_view traces) {
  return "device: {id: gw}\n"                                                        // 1
         "adapters:\n"                                                               // 2
         "  - name: bus\n"                                                           // 3
         "    type: modbus\n"                                                        // 4
         "    host: 127.0.0.1\n"                                                     // 5
         "    devices:\n"                                                            // 6
         "      - name: dev\n"                                                       // 7
         "        points:\n"                                                         // 8
         "          - {name: t, table: holding, address: 0, type: int16}\n"          // 9
         "          - {name: state, table: holding, address: 1, type: uint16, enum: {3: brewing}}\n"  // 10
         "          - {name: pump, table: coil, address: 0, type: bool}\n"           // 11
         "          - {name: model, table: holding, address: 2, type: string, length: 2}\n"  // 12
         "  - name: serial\n"                                                        // 13
         "    type: tcp-client\n"                                                    // 14
         "    host: 127.0.0.1\n"                                                     // 15
         "    port: 7000\n"                                                          // 16
         "    source: machine\n"                                                     // 17
         "    codec: {type: lines, messages: [{name: status, regex: 'P=(?<p>[0-9.]+) L=(?<label>[a-z]+)', fields: [{name: p, type: float}, {name: label, type: string}]}, {name: shot, record: true, regex: 'S=(?<ml>[0-9]+)', fields: [{name: ml, type: int}]}]}\n"  // 18
         "traces:\n" +                                                               // 19
         std::string(traces);                                                        // 20…
}

TEST(Traces, ReadsACaptureWithItsDefaults) {
  const auto result = parse(with_traces(
      "  - name: shot\n"
      "    source: dev\n"
      "    points: [t, pump]\n"
      "    start: {point: state, equals: brewing}\n"));
  ASSERT_TRUE(result.config) << describe(result);
  const auto& t = result.config->traces.at(0);
  EXPECT_EQ(t.name, "shot");
  EXPECT_EQ(t.points, (std::vector<std::string>{"t", "pump"}));
  EXPECT_EQ(t.start.point, "state");
  EXPECT_EQ(t.start.test, TraceCondition::Test::equals);
  EXPECT_EQ(t.start.operand, "brewing");
  EXPECT_FALSE(t.end);
  EXPECT_EQ(t.sample_interval, 100ms);
  EXPECT_EQ(t.max_duration, 5min);
  EXPECT_EQ(t.telemetry, TraceTelemetry::all);
  EXPECT_TRUE(t.summary_record.empty());
}

TEST(Traces, ReadsEveryKey) {
  const auto result = parse(with_traces(
      "  - name: shot\n"
      "    source: machine\n"
      "    points: [p]\n"
      "    start: {point: p, above: 2.5}\n"
      "    end: {point: label, not_equals: brewing}\n"
      "    sample_interval: 10ms\n"
      "    max_duration: 1m\n"
      "    summary: [label]\n"
      "    summary_record: shot\n"
      "    summary_wait: 2s\n"
      "    telemetry: outside\n"));
  ASSERT_TRUE(result.config) << describe(result);
  const auto& t = result.config->traces.at(0);
  EXPECT_EQ(t.start.test, TraceCondition::Test::above);
  EXPECT_DOUBLE_EQ(t.start.number, 2.5);
  EXPECT_EQ(t.end->test, TraceCondition::Test::not_equals);
  EXPECT_EQ(t.sample_interval, 10ms);
  EXPECT_EQ(t.max_duration, 1min);
  EXPECT_EQ(t.max_samples(), 6001u);
  EXPECT_EQ(t.summary, (std::vector<std::string>{"label"}));
  EXPECT_EQ(t.summary_record, "shot");
  EXPECT_EQ(t.summary_wait, 2s);
  EXPECT_EQ(t.telemetry, TraceTelemetry::outside);
}

TEST(Traces, MistakesAreLocatedWithWhatToDo) {
  EXPECT_TRUE(has_errors(
      parse(with_traces("  - name: shot\n"                                       // 20
                        "    source: dve\n"                                      // 21
                        "    points: [t]\n"                                      // 22
                        "    start: {point: state, equals: brewing}\n"           // 23
                        "  - name: shot\n"                                       // 24
                        "    source: dev\n"                                      // 25
                        "    points: [tt, model]\n"                              // 26
                        "    start: {point: state, equals: 3, above: 2}\n"       // 27
                        "    sample_interval: 5ms\n"                             // 28
                        "    summary_record: shot\n"                             // 29
                        "  - name: long\n"                                       // 30
                        "    source: machine\n"                                  // 31
                        "    points: [p]\n"                                      // 32
                        "    start: {point: label, below: 3}\n"                  // 33
                        "    sample_interval: 10ms\n"                            // 34
                        "    max_duration: 1h\n"                                 // 35
                        "    summary_record: shto\n")),                          // 36
      {{21, 13, "unknown source 'dve' (did you mean 'dev'?)"},
       {26, 13, "unknown point 'tt' (did you mean 't'?) of source 'dev'"},
       {26, 13, "'model' is not numeric"},
       {27, 12, "exactly one of 'equals', 'not_equals', 'above', 'below'"},
       {27, 45, "'state' is not numeric: compare it with equals or not_equals"},
       {28, 22, "5ms is out of range"},
       {29, 21, "source 'dev' sends no records"},
       {33, 34, "'label' is not numeric"},
       {35, 19, "holds 360001 samples; at most 262144"},
       {36, 21, "unknown record 'shto' (did you mean 'shot'?) of source 'machine'"}}));
}

TEST(Traces, ACaptureNeedsPointsAndAStartAndItsNameOncePerSource) {
  EXPECT_TRUE(has_errors(parse(with_traces("  - name: shot\n"           // 20
                                           "    source: dev\n"          // 21
                                           "  - name: shot\n"           // 22
                                           "    source: dev\n"          // 23
                                           "    points: [t]\n"          // 24
                                           "    start: {point: state, equals: brewing}\n"
                                           "    summary_wait: 1s\n")),  // 26
                         {{20, 5, "missing required key 'points'"},
                          {20, 5, "missing required key 'start'"},
                          {22, 11, "a source's traces have different names"},
                          {26, 19, "'summary_wait' only applies together with 'summary_record'"}}));
}

}  // namespace
}  // namespace guardian::config::testing
