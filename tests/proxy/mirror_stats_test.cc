// Tests the results store of parallel runs: counting by kind, the ring of differing pairs
// and its limits, and the Prometheus and JSON texts.
#include "proxy/mirror_stats.h"

#include <gtest/gtest.h>

namespace turnout {
namespace {

CompareResult differing(DifferenceKind kind) {
  CompareResult result;
  result.differences.push_back({kind, "where", "a", "b"});
  return result;
}

DiffRecord recordFor(const std::string& request, const std::string& body = "") {
  DiffRecord record;
  record.route = "run";
  record.cluster = "green";
  record.request_line = request;
  record.primary_body = body;
  record.candidate_body = body;
  return record;
}

const std::vector<std::pair<std::string, std::string>> kLabels = {{"-", "-"}, {"run", "green"}};

TEST(DiffStore, CountsEqualAndEachKindOfDifference) {
  DiffStore store;
  store.record(1, CompareResult{}, {});
  CompareResult noisy;
  noisy.noise = 3;
  store.record(1, noisy, {});
  store.record(1, differing(DifferenceKind::Status), recordFor("GET /s"));
  store.record(1, differing(DifferenceKind::Body), recordFor("GET /b"));
  store.recordUncompared(1);

  std::string text = store.renderPrometheus(kLabels);
  auto has = [&text](const std::string& line) {
    return text.find(line + "\n") != std::string::npos;
  };
  EXPECT_TRUE(has("turnout_mirror_compared_total{route=\"run\",cluster=\"green\"} 4")) << text;
  EXPECT_TRUE(has("turnout_mirror_equal_total{route=\"run\",cluster=\"green\"} 2"));
  EXPECT_TRUE(has("turnout_mirror_different_total{route=\"run\",cluster=\"green\"} 2"));
  EXPECT_TRUE(has("turnout_mirror_noise_total{route=\"run\",cluster=\"green\"} 3"));
  EXPECT_TRUE(has("turnout_mirror_uncompared_total{route=\"run\",cluster=\"green\"} 1"));
  EXPECT_TRUE(
      has("turnout_mirror_differences_total{route=\"run\",cluster=\"green\",kind=\"status\"} 1"));
  EXPECT_TRUE(
      has("turnout_mirror_differences_total{route=\"run\",cluster=\"green\",kind=\"header\"} 0"));
  EXPECT_TRUE(
      has("turnout_mirror_differences_total{route=\"run\",cluster=\"green\",kind=\"body\"} 1"));
  EXPECT_EQ(text.find("route=\"-\""), std::string::npos) << "an unused row was printed";
}

TEST(DiffStore, RingKeepsTheNewestPairsFirstWithBodiesCut) {
  DiffStore store;
  MirroringDef limits;
  limits.max_kept_diffs = 2;
  limits.max_diff_body_bytes = 4;
  store.configure(limits);
  for (const char* request : {"GET /1", "GET /2", "GET /3"}) {
    store.record(1, differing(DifferenceKind::Header), recordFor(request, "abcdefgh"));
  }

  std::string json = store.renderJson();
  EXPECT_NE(json.find("\"kept\":2,\"max_kept\":2"), std::string::npos) << json;
  EXPECT_EQ(json.find("GET /1"), std::string::npos);
  EXPECT_LT(json.find("GET /3"), json.find("GET /2"));
  EXPECT_NE(json.find("\"primary_body\":\"abcd\""), std::string::npos) << json;
  EXPECT_EQ(json.find("abcde"), std::string::npos);
}

TEST(DiffStore, ShrinkingTheRingDropsTheOldest) {
  DiffStore store;
  for (const char* request : {"GET /old", "GET /new"}) {
    store.record(1, differing(DifferenceKind::Body), recordFor(request));
  }
  MirroringDef limits;
  limits.max_kept_diffs = 1;
  store.configure(limits);
  std::string json = store.renderJson();
  EXPECT_EQ(json.find("GET /old"), std::string::npos);
  EXPECT_NE(json.find("GET /new"), std::string::npos);
}

TEST(DiffStore, BytesThatAreNoUtf8StayValidJson) {
  DiffStore store;
  store.record(1, differing(DifferenceKind::Body), recordFor("GET /\"q\"", "\xff\n"));
  std::string json = store.renderJson();
  EXPECT_NE(json.find("\"request\":\"GET /\\\"q\\\"\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"primary_body\":\"\\u00ff\\u000a\""), std::string::npos) << json;
}

TEST(MirrorSlots, SamePairKeepsItsRowAcrossSnapshots) {
  auto snapshot = [] {
    Snapshot built;
    built.clusters.resize(2);
    built.clusters[0].name = "blue";
    built.clusters[1].name = "green";
    RouteDef route;
    route.name = "run";
    route.mirrors.resize(1);
    route.mirrors[0].cluster_index = 1;
    VirtualHostDef host;
    host.routes.push_back(route);
    ListenerDef listener;
    listener.route_table.virtual_hosts.push_back(host);
    built.listeners.push_back(listener);
    return built;
  };
  MirrorSlots slots;
  Snapshot first = snapshot();
  Snapshot second = snapshot();
  slots.assign(&first);
  slots.assign(&second);
  uint32_t row = first.listeners[0].route_table.virtual_hosts[0].routes[0].mirrors[0].stats_slot;
  EXPECT_EQ(row, 1u);
  EXPECT_EQ(second.listeners[0].route_table.virtual_hosts[0].routes[0].mirrors[0].stats_slot, row);
  EXPECT_EQ(slots.labels().at(row), (std::pair<std::string, std::string>{"run", "green"}));
}

TEST(MirrorStats, CountersOfEveryWorkerAreSummedByFamily) {
  MirrorHub hub;
  Snapshot unused;
  hub.prepare(&unused);
  MirrorCounters first;
  MirrorCounters second;
  first.count(0, MirrorEvent::Sent);
  second.count(0, MirrorEvent::Sent);
  second.count(0, MirrorEvent::SkippedConcurrency);
  std::string text = renderMirrorStats(hub, {&first, &second});
  EXPECT_NE(text.find("turnout_mirror_sent_total{route=\"-\",cluster=\"-\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("turnout_mirror_skipped_total{route=\"-\",cluster=\"-\",reason="
                      "\"concurrency\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("turnout_mirror_buffered_bytes 0\n"), std::string::npos);
}

}  // namespace
}  // namespace turnout
