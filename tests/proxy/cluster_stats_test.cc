// Tests the latency histograms and the realised split lines of GET /stats.
#include "proxy/cluster_stats.h"

#include <gtest/gtest.h>

namespace turnout {
namespace {

TEST(LatencyCounters, BoundsAreInclusiveAndSlowRequestsFallInTheLastBucket) {
  LatencyCounters counters;
  for (uint64_t millis : {0, 1, 2, 3, 10000, 10001}) {
    counters.observe(1, millis);
  }
  EXPECT_EQ(counters.bucket(1, 0), 2u);  // <= 1 ms
  EXPECT_EQ(counters.bucket(1, 1), 1u);  // <= 2 ms
  EXPECT_EQ(counters.bucket(1, 2), 1u);  // <= 5 ms
  EXPECT_EQ(counters.bucket(1, kLatencyBoundsMs.size() - 1), 1u);
  EXPECT_EQ(counters.bucket(1, kLatencyBoundsMs.size()), 1u);
  EXPECT_EQ(counters.sumMillis(1), 20007u);
}

TEST(LatencyCounters, RowsOfOneClusterAreMergedAndCumulative) {
  StatsSlots slots;
  Snapshot snapshot;
  snapshot.clusters.resize(1);
  snapshot.clusters[0].name = "blue";
  for (const char* name : {"a", "b"}) {
    RouteDef route;
    route.name = name;
    route.shares.push_back({0, 1, 0, kBucketCount});
    VirtualHostDef host;
    host.routes.push_back(route);
    ListenerDef listener;
    listener.route_table.virtual_hosts.push_back(host);
    snapshot.listeners.push_back(listener);
  }
  slots.assign(&snapshot);

  LatencyCounters worker;
  worker.observe(1, 1);
  worker.observe(2, 40);
  std::string text = renderLatency(slots, {&worker});
  EXPECT_NE(text.find("turnout_request_duration_seconds_bucket{cluster=\"blue\",le=\"0.001\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("turnout_request_duration_seconds_bucket{cluster=\"blue\",le=\"0.050\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("turnout_request_duration_seconds_count{cluster=\"blue\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("turnout_request_duration_seconds_sum{cluster=\"blue\"} 0.041\n"),
            std::string::npos);
}

TEST(RenderSplits, WeightsStandBesideTheObservedShares) {
  Snapshot snapshot;
  snapshot.clusters.resize(2);
  snapshot.clusters[0].name = "blue";
  snapshot.clusters[1].name = "green";
  RouteDef route;
  route.name = "canary";
  route.shares = {{0, 90, 0, 9000, 1}, {1, 10, 9000, kBucketCount, 2}};
  VirtualHostDef host;
  host.routes.push_back(route);
  ListenerDef listener;
  listener.route_table.virtual_hosts.push_back(host);
  snapshot.listeners.push_back(listener);

  RequestCounters counters;
  for (int i = 0; i < 3; ++i) {
    counters.count(1, 200);
  }
  counters.count(2, 503);
  std::string text = renderSplits(snapshot, {&counters});
  EXPECT_NE(text.find("turnout_split_weight{route=\"canary\",cluster=\"blue\"} 90\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("turnout_split_observed_ratio{route=\"canary\",cluster=\"blue\"} 0.7500\n"),
            std::string::npos);
  EXPECT_NE(text.find("turnout_split_observed_ratio{route=\"canary\",cluster=\"green\"} 0.2500\n"),
            std::string::npos);
}

}  // namespace
}  // namespace turnout
