// The store-and-forward keys (queue bounds and policy, the live share of the uplink) and the
// `processing` section: values, defaults, and located errors for what is wrong.

#include <gtest/gtest.h>

#include "config_expectations.hpp"
#include "guardian/config/loader.hpp"

namespace guardian::config {
namespace {

using namespace std::chrono_literals;
using testing::has_error;
using testing::has_errors;
using testing::loads;
using testing::parse;

TEST(QueueBounds, DefaultToDropOldestWithoutAQuotaAndTenSecondGapReports) {
  const auto result = parse("device: {id: gw}\n");
  ASSERT_TRUE(loads(result));
  EXPECT_EQ(result.config->queue.when_full, FullPolicy::drop_oldest);
  EXPECT_EQ(result.config->queue.source_quota_percent, 100);
  EXPECT_EQ(result.config->queue.gap_interval, 10s);
  EXPECT_EQ(result.config->uplink.live_share_percent, 50);
}

TEST(QueueBounds, ReadsThePolicyTheQuotaAndTheGapInterval) {
  const auto result = parse(
      "device: {id: gw}\n"
      "queue: {when_full: reject_new, source_quota: 25%, gap_interval: 1m, max_age: 2d}\n"
      "uplink: {live_share: 80%}\n");
  ASSERT_TRUE(loads(result));
  EXPECT_EQ(result.config->queue.when_full, FullPolicy::reject_new);
  EXPECT_EQ(result.config->queue.source_quota_percent, 25);
  EXPECT_EQ(result.config->queue.gap_interval, 1min);
  EXPECT_EQ(result.config->queue.max_age, std::chrono::hours{48});
  EXPECT_EQ(result.config->uplink.live_share_percent, 80);
}

TEST(QueueBounds, BadValuesAreLocatedAndExplained) {
  EXPECT_TRUE(has_errors(parse("device: {id: gw}\n"
                               "queue:\n"
                               "  when_full: drop_newest\n"
                               "  source_quota: 0%\n"
                               "  gap_interval: 500ms\n"
                               "  max_bytes: 512KiB\n"
                               "uplink:\n"
                               "  live_share: 50\n"),
                         {{3, 14, "unknown value 'drop_newest' (did you mean 'drop_oldest'?)"},
                          {4, 17, "0% is out of range: expected a percentage between 1% and 100%"},
                          {5, 17, "500ms is out of range: expected a duration between 1s and 1h"},
                          {6, 14, "expected a size of at least 1MiB"},
                          {8, 15, "write the percent sign, e.g. 50%"}}));
}

/// A site with one Modbus device `dev` (points t, state, pump) and `processing` from line 13.
std::string with_processing(std::string_view rules) {
  return "device: {id: gw}\n"                                                     // 1
         "adapters:\n"                                                            // 2
         "  - name: bus\n"                                                        // 3
         "    type: modbus\n"                                                     // 4
         "    host: 127.0.0.1\n"                                                  // 5
         "    devices:\n"                                                         // 6
         "      - name: dev\n"                                                    // 7
         "        points:\n"                                                      // 8
         "          - {name: t, table: holding, address: 0, type: int16}\n"       // 9
         "          - {name: state, table: holding, address: 1, type: uint16}\n"  // 10
         "          - {name: pump, table: coil, address: 0, type: bool}\n"        // 11
         "processing:\n" +                                                        // 12
         std::string(rules);                                                      // 13…
}

TEST(Processing, ReadsDeadbandsAggregatesCountersAndPriorities) {
  const auto result = parse(with_processing(
      "  - {source: dev, point: t, deadband: 0.5, heartbeat: 5m}\n"
      "  - {source: dev, point: state, deadband: 2%, priority: alarm}\n"
      "  - {source: dev, point: pump, counters: [cycles, run_hours], counter_interval: 10m,"
      " on_above: 0.5}\n"));
  ASSERT_TRUE(loads(result));
  const auto& rules = result.config->processing;
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].deadband->kind, Deadband::Kind::absolute);
  EXPECT_DOUBLE_EQ(rules[0].deadband->amount, 0.5);
  EXPECT_EQ(rules[0].deadband->heartbeat, 5min);
  EXPECT_EQ(rules[1].deadband->kind, Deadband::Kind::percent);
  EXPECT_DOUBLE_EQ(rules[1].deadband->amount, 2.0);
  EXPECT_EQ(rules[1].deadband->heartbeat, 10min) << "the default heartbeat";
  EXPECT_EQ(rules[1].priority, PointPriority::alarm);
  EXPECT_EQ(rules[2].counters->kinds,
            (std::vector<CounterKind>{CounterKind::cycles, CounterKind::run_hours}));
  EXPECT_EQ(rules[2].counters->interval, 10min);
  EXPECT_DOUBLE_EQ(rules[2].counters->on_above, 0.5);
}

TEST(Processing, AnAggregateRuleMayNameSeveralPointsAndDefaultsToEveryFunction) {
  const auto result =
      parse(with_processing("  - source: dev\n"
                            "    points: [t, state]\n"
                            "    aggregate: {interval: 5m}\n"));
  ASSERT_TRUE(loads(result));
  const auto& rules = result.config->processing;
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].point, "t");
  EXPECT_EQ(rules[1].point, "state");
  EXPECT_EQ(rules[1].aggregate->interval, 5min);
  EXPECT_EQ(rules[1].aggregate->functions.size(), 5u);
}

TEST(Processing, UnknownSourcesAndPointsAreLocatedWithASuggestion) {
  EXPECT_TRUE(
      has_errors(parse(with_processing("  - {source: dve, point: t, deadband: 1}\n"
                                       "  - {source: dev, point: pmup, deadband: 1}\n")),
                 {{13, 14, "unknown source 'dve' (did you mean 'dev'?)"},
                  {14, 26, "unknown point 'pmup' (did you mean 'pump'?) of source 'dev'"}}));
}

TEST(Processing, StreamSourcesAndTheirPeersHaveTheFieldsTheySendAsReadings) {
  const std::string site = R"yaml(device: {id: gw}
adapters:
  - name: espresso
    type: tcp-client
    host: 127.0.0.1
    port: 7000
    codec:
      type: lines
      messages:
        - {name: status, regex: "T=(?<temp>[0-9.]+)", fields: [{name: temp, type: float}]}
        - {name: shot, record: true, regex: "S=(?<ml>[0-9]+)", fields: [{name: ml, type: int}]}
  - name: grinders
    type: tcp-server
    port: 7001
    peers: [{address: 10.0.0.21, source: grinder-1}]
    codec:
      type: json-lines
      messages: [{name: r, fields: [{name: rpm, pointer: /rpm, type: float}]}]
processing:
)yaml";
  const auto ok = parse(site +
                        "  - {source: espresso, point: temp, deadband: 0.5}\n"
                        "  - {source: grinder-1, point: rpm, aggregate: {interval: 1m}}\n");
  ASSERT_TRUE(loads(ok));
  ASSERT_EQ(ok.config->processing.size(), 2u);
  EXPECT_EQ(ok.config->processing[1].source, "grinder-1");
  // A record's fields travel together on `records`: they are not points a rule can shape; the
  // tcp-server adapter's own name is not a source (its peers are).
  EXPECT_TRUE(has_errors(parse(site +
                               "  - {source: espresso, point: ml, deadband: 1}\n"
                               "  - {source: grinders, point: rpm, deadband: 1}\n"),
                         {{20, 31, "unknown point 'ml'"}, {21, 14, "unknown source 'grinders'"}}));
}

TEST(Processing, RulesThatContradictThemselvesAreRefused) {
  EXPECT_TRUE(has_errors(
      parse(with_processing(
          "  - {source: dev, point: t, deadband: 1, aggregate: {interval: 1m}}\n"  // 13
          "  - {source: dev, point: state, heartbeat: 1m, priority: alarm}\n"      // 14
          "  - {source: dev, point: pump, on_above: 3, priority: alarm}\n")),      // 15
      {{13, 53, "a point is either aggregated or sent by exception (deadband), not both"},
       {14, 44, "a heartbeat only applies together with a deadband"},
       {15, 42, "'on_above' only applies together with 'counters'"}}));
  EXPECT_TRUE(has_errors(
      parse(with_processing(
          "  - {source: dev, point: t, points: [state], priority: alarm}\n"       // 13
          "  - {source: dev, point: pump}\n"                                      // 14
          "  - {source: dev, point: state, deadband: -1}\n"                       // 15
          "  - {source: dev, points: [], aggregate: {functions: [median]}}\n")),  // 16
      {{13, 37, "write either 'point' (one) or 'points' (a list), not both"},
       {14, 5, "needs at least one of 'deadband', 'aggregate', 'counters', 'priority'"},
       {15, 43, "expected a deadband: an amount in the point's unit (e.g. 0.5) or a percentage"},
       {16, 27, "the list is empty: name at least one point"},
       {16, 55, "unknown value 'median' (did you mean 'mean'?)"}}));
}

TEST(Processing, APointHasAtMostOneRule) {
  EXPECT_TRUE(
      has_error(parse(with_processing("  - {source: dev, point: t, deadband: 1}\n"
                                      "  - {source: dev, points: [state, t], priority: alarm}\n")),
                14, 27,
                "duplicate processing rule for 'dev/t' (first used at line 13, column "
                "26); a point has at most one processing rule"));
}

}  // namespace
}  // namespace guardian::config
