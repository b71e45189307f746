// RefusalWatch: which message a broker refuses by dropping the connection.
#include "guardian/gateway/refusal_watch.hpp"

#include <gtest/gtest.h>

namespace guardian::gateway {
namespace {

using namespace std::chrono_literals;

TEST(RefusalWatch, AfterALossInABurstEveryMessageThenInFlightGoesAloneUntilPassed) {
  RefusalWatch watch(3);
  EXPECT_FALSE(watch.alone_through());
  // Lost with seqs 3…40 in flight: no one is accused yet, each goes alone next.
  EXPECT_FALSE(watch.on_connection_lost(3, 40, false, 10ms));
  EXPECT_FALSE(watch.suspect());
  EXPECT_EQ(watch.alone_through(), 40u);
  watch.passed(20);
  EXPECT_EQ(watch.alone_through(), 40u);
  watch.passed(41);
  EXPECT_FALSE(watch.alone_through());
}

TEST(RefusalWatch, AMessageTheConnectionDropsRightAfterEachTimeItIsSentAloneIsRefused) {
  RefusalWatch watch(3);
  EXPECT_FALSE(watch.on_connection_lost(3, 40, false, 10ms));
  // 3, 4, 5 acknowledged one by one; 6 goes alone and the connection drops: one.
  watch.passed(6);
  EXPECT_FALSE(watch.on_connection_lost(6, 6, true, 10ms));
  EXPECT_EQ(watch.suspect(), 6u);
  EXPECT_FALSE(watch.on_connection_lost(6, 6, true, 10ms));
  EXPECT_EQ(watch.drops(), 2);
  EXPECT_EQ(watch.on_connection_lost(6, 6, true, 10ms), 6u);
  EXPECT_FALSE(watch.suspect());
  // The rest of the burst still goes alone until it is passed.
  EXPECT_EQ(watch.alone_through(), 40u);
}

TEST(RefusalWatch, APubackClearsTheSuspectItWasTheNetwork) {
  RefusalWatch watch(2);
  EXPECT_FALSE(watch.on_connection_lost(7, 7, true, 10ms));
  watch.on_settled(8);  // another message: nothing changes
  EXPECT_EQ(watch.suspect(), 7u);
  watch.on_settled(7);
  EXPECT_FALSE(watch.suspect());
  // It starts over: one more drop does not refuse it.
  EXPECT_FALSE(watch.on_connection_lost(7, 7, true, 10ms));
  EXPECT_EQ(watch.drops(), 1);
}

TEST(RefusalWatch, LossesLongAfterThePublishOrWithNothingInFlightAccuseNoOne) {
  RefusalWatch watch(1, 5s);
  // A dead network is noticed after the keep-alive, not right after a publish.
  EXPECT_FALSE(watch.on_connection_lost(7, 7, true, 45s));
  EXPECT_FALSE(watch.suspect());
  EXPECT_FALSE(watch.alone_through());
  EXPECT_FALSE(watch.on_connection_lost(std::nullopt, std::nullopt, false, 1ms));
  EXPECT_FALSE(watch.alone_through());
  // With refuse_after 1 the first drop while alone refuses it.
  EXPECT_EQ(watch.on_connection_lost(9, 9, true, 1ms), 9u);
}

TEST(RefusalWatch, AnotherMessageDroppingAloneStartsTheCountAfresh) {
  RefusalWatch watch(2);
  EXPECT_FALSE(watch.on_connection_lost(7, 7, true, 1ms));
  EXPECT_FALSE(watch.on_connection_lost(5, 5, true, 1ms));
  EXPECT_EQ(watch.suspect(), 5u);
  EXPECT_EQ(watch.drops(), 1);
  // Passing it clears it as a PUBACK would.
  watch.passed(6);
  EXPECT_FALSE(watch.suspect());
}

}  // namespace
}  // namespace guardian::gateway
