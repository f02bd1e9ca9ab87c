// The compiled, immutable form of a config: what the data path reads on every request.
//
// A Snapshot is built once by compileSnapshot() (config/snapshot_compiler.h) from a
// validated Bootstrap and never changes afterwards; workers share it through a
// std::shared_ptr<const Snapshot>. Every cross reference is resolved to an index, every
// regex is compiled, every bucket range is precomputed.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <re2/re2.h>

#include "config/word_compare.h"

namespace turnout {

// Buckets are integers in [0, kBucketCount).
constexpr uint32_t kBucketCount = 10000;

// A numeric socket address with its text form ("127.0.0.1:8080", "[::1]:8080").
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  std::string text;

  const sockaddr* sockaddrPtr() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// One value matcher: exact, prefix, suffix, contains or a full-match RE2 regex.
struct StringMatch {
  enum class Kind { Exact, Prefix, Suffix, Contains, Regex };

  Kind kind = Kind::Exact;
  std::string value;
  std::shared_ptr<const re2::RE2> regex;  // Set only for Kind::Regex.

  // True when `candidate` passes the test. The exact test, the common one, is inline: for
  // a value of a few bytes a call costs more than the compare.
  bool matches(std::string_view candidate) const {
    return kind == Kind::Exact ? equalsByWords(candidate, value) : matchesAnyKind(candidate);
  }

  // matches() for every kind, out of line.
  bool matchesAnyKind(std::string_view candidate) const;
};

// A header, cookie or query parameter matcher. With no value matcher it tests presence.
struct KeyValueMatch {
  std::string name;  // Lower-cased for headers; as written for cookies and parameters.
  bool has_value_match = false;
  StringMatch value;
  bool invert = false;

  // headerNameHash(name) for a header matcher, set by the snapshot compiler; 0 until then,
  // and the filters then hash the name on each use.
  uint32_t name_hash = 0;

  // For a header matcher: 1 + the slot of its name in the virtual host (assignHeaderSlots()
  // in config/route_plan.h), where the route match keeps what it read of that header for
  // the other routes of the request; 0: no slot, the lines are looked up on every use.
  uint8_t slot = 0;
};

// Distinct header names per virtual host that get a slot; the names past these are looked
// up on every use.
constexpr size_t kHeaderSlots = 16;

struct PathMatch {
  // Connect matches CONNECT requests only, and the other kinds never do.
  enum class Kind { Prefix, Exact, Regex, Connect };

  Kind kind = Kind::Prefix;
  std::string value;
  std::shared_ptr<const re2::RE2> regex;  // Set only for Kind::Regex.
};

// Where one source of the split key comes from.
struct HashPolicyRule {
  enum class Kind { Header, Cookie, QueryParameter, SourceIp, BucketHeader };

  Kind kind = Kind::Header;
  std::string name;  // Lower-cased for headers; unused for SourceIp.

  // headerNameHash(name) for Header and BucketHeader, set by the snapshot compiler; 0 until
  // then, and the filters then hash the name on each use.
  uint32_t name_hash = 0;
};

// One pool of a split and the buckets it owns: [bucket_begin, bucket_end).
struct ClusterShare {
  uint32_t cluster_index = 0;  // Index into Snapshot::clusters.
  uint32_t weight = 0;
  uint32_t bucket_begin = 0;
  uint32_t bucket_end = 0;

  // Row of the per-worker request counters for this (route, cluster) pair; 0 is the row
  // of requests no share took. Set by the proxy before the snapshot is published.
  uint32_t stats_slot = 0;
};

struct StickyCookieDef {
  bool enabled = false;
  std::string name;
  int64_t max_age_seconds = 30 * 24 * 3600;  // 0: a session cookie (no Max-Age).
  std::string path = "/";
};

// When and how often a request is tried again (RouteAction.retry_policy).
struct RetryPolicyDef {
  uint32_t num_retries = 1;
  bool on_connect_failure = true;
  bool on_reset = false;
  bool on_gateway_error = false;
  uint64_t per_try_timeout_ms = 0;  // 0: the route's timeout.
  uint64_t base_interval_ms = 25;
};

// One step of a JSON path: an object key, an array index, or a wildcard for either.
struct JsonPathStep {
  enum class Kind { Key, Index, AnyKey, AnyIndex };

  Kind kind = Kind::Key;
  std::string key;     // Kind::Key only.
  uint64_t index = 0;  // Kind::Index only.
};

using JsonPath = std::vector<JsonPathStep>;

// How a parallel run compares a copy's answer with the primary's (MirrorCompare).
struct MirrorCompareDef {
  enum class Body { Exact, Json, Ignore };

  bool enabled = false;
  std::vector<std::string> headers;  // Lower-cased.
  Body body = Body::Exact;
  std::vector<JsonPath> ignored_json_paths;
  bool noise_filter = false;
  uint64_t max_body_bytes = 65536;
};

// One request mirror policy of a route (RequestMirrorPolicy).
struct MirrorPolicyDef {
  uint32_t cluster_index = 0;  // Index into Snapshot::clusters.

  // A request is mirrored when its bucket is below this: kBucketCount mirrors all.
  uint32_t bucket_limit = kBucketCount;
  uint64_t timeout_ms = 15000;
  uint32_t max_concurrent = 100;  // Per worker.
  uint64_t max_body_bytes = 1 << 20;
  bool allow_unsafe_methods = false;
  std::string host_rewrite;  // Empty: the client's Host.
  MirrorCompareDef compare;

  // Row of the mirror counters and comparison results for this (route, cluster) pair.
  // Set by the proxy before the snapshot is published.
  uint32_t stats_slot = 0;
};

// What the route match can tell about a route before reading its matchers, worked out once
// by planRouteMatch() (config/route_plan.h). The defaults promise nothing: a route built
// without a plan is tested in full and gets the same answer, only more slowly.
struct RouteMatchPlan {
  // How much of the path test can be skipped: Any for prefix "" (every path), OriginForm
  // for prefix "/" (every path that starts with '/', which excludes "*" of OPTIONS *).
  enum class Path { Test, OriginForm, Any };

  Path path = Path::Test;
  bool any_method = false;  // The route has no method list.

  // headerNameBit() of every header the route cannot match without: the name of each
  // header matcher that is not inverted, and "cookie" when a cookie matcher is not. A
  // request whose header index lacks one of these bits fails the route unread.
  uint64_t required_header_bits = 0;

  // A query parameter matcher that is not inverted needs a query.
  bool needs_query = false;

  // For a regex path: the bytes every path the regex can match starts with (the common
  // prefix of RE2::PossibleMatchRange's bounds), so a path without them is refused before
  // the regex runs. Empty: no such prefix, or no regex.
  std::string path_prefix;
};

struct RouteDef {
  std::string name;

  // Match.
  PathMatch path;
  std::vector<KeyValueMatch> headers;
  std::vector<KeyValueMatch> cookies;
  std::vector<KeyValueMatch> query_parameters;
  std::vector<std::string> methods;  // Empty: any method.
  RouteMatchPlan plan;

  // Action. A single-cluster route has one share owning every bucket.
  std::vector<ClusterShare> shares;
  std::vector<HashPolicyRule> hash_policy;
  StickyCookieDef sticky_cookie;
  uint64_t salt_seed = 0;  // XXH3-64 of the hash salt; the seed of the bucket hash.
  uint64_t timeout_ms = 15000;
  RetryPolicyDef retry_policy;

  // A pool without a healthy endpoint: answer 503 (strict), else send the request to
  // the fallback cluster when there is one, else spill it to the other shares.
  bool strict = false;
  int32_t fallback_cluster_index = -1;  // Index into Snapshot::clusters; -1: none.

  // Copies of each request for other clusters (parallel runs).
  std::vector<MirrorPolicyDef> mirrors;

  // The protocol switches this route tunnels, lower-cased: Upgrade protocol names
  // ("websocket") and "connect" for CONNECT. The listener's and the route's
  // upgrade_configs merged over the default (websocket only).
  std::vector<std::string> upgrade_types;
};

// A Host pattern: exact, "*.suffix" (Suffix holds ".suffix"), "prefix.*" or "*".
struct DomainMatch {
  enum class Kind { Exact, Suffix, Prefix, Any };

  Kind kind = Kind::Exact;
  std::string value;  // Lower-cased.
};

// Routes [begin, end) of a virtual host, one after the other, with the same path matcher
// and methods, whose only key/value matcher is the same header with an exact, non-inverted
// value (a route per value of "x-canary", say). The route match hashes the values the
// request has for that header and takes the first route naming one of them, instead of
// testing every route of the run in turn. Found by findExactHeaderRuns()
// (config/header_runs.h).
struct ExactHeaderRunDef {
  struct Entry {
    uint64_t value_hash = 0;  // exactValueHash() of the route's value.
    uint32_t route = 0;  // Index into VirtualHostDef::routes.
  };

  uint32_t begin = 0;
  uint32_t end = 0;
  std::string name;  // The header, lower-cased.
  uint32_t name_hash = 0;  // headerNameHash(name).
  std::vector<Entry> entries;  // One per route of the run, by value_hash, then route.
};

struct VirtualHostDef {
  std::string name;
  std::vector<DomainMatch> domains;
  std::vector<RouteDef> routes;
  std::vector<ExactHeaderRunDef> exact_header_runs;  // By begin; the runs do not overlap.
};

struct DecisionHeadersDef {
  bool enabled = true;
  std::string cluster_header = "x-turnout-cluster";
  std::string bucket_header = "x-turnout-bucket";
};

struct RouteTable {
  std::vector<VirtualHostDef> virtual_hosts;
  DecisionHeadersDef decision_headers;
};

struct EndpointDef {
  SocketAddress address;
};

struct HealthCheckDef {
  bool enabled = false;
  std::string path;
  std::string host;  // Host header; the cluster name unless configured.
  uint64_t interval_ms = 5000;
  uint64_t timeout_ms = 1000;
  uint32_t healthy_threshold = 2;
  uint32_t unhealthy_threshold = 3;
  std::vector<uint32_t> expected_statuses;  // Empty: 200..399.

  bool passes(uint32_t status) const;
};

struct OutlierDetectionDef {
  bool enabled = true;
  uint32_t consecutive_5xx = 5;
  uint32_t consecutive_gateway_failures = 3;
  uint64_t base_ejection_ms = 30000;
  uint64_t max_ejection_ms = 300000;
  uint32_t max_ejection_percent = 50;
};

struct ClusterDef {
  std::string name;
  std::vector<EndpointDef> endpoints;
  uint64_t connect_timeout_ms = 1000;
  uint32_t max_idle_connections_per_endpoint = 1024;
  HealthCheckDef health_check;
  OutlierDetectionDef outlier_detection;
};

struct ListenerDef {
  std::string name;
  SocketAddress address;
  RouteTable route_table;
  uint32_t max_request_headers_bytes = 65536;
  uint32_t max_request_line_bytes = 16384;
  uint32_t max_request_headers_count = 100;
  bool allow_bare_lf = false;
  uint64_t max_request_body_bytes = 0;  // 0: unlimited.
  uint64_t idle_timeout_ms = 60000;
  uint64_t tunnel_idle_timeout_ms = 3600000;
};

struct AccessLogDef {
  enum class Format { Text, Json };

  bool enabled = true;
  std::string path;  // Empty: standard output.
  Format format = Format::Text;
};

// Process-wide limits of mirroring (Mirroring).
struct MirroringDef {
  uint64_t max_buffered_bytes = uint64_t{64} << 20;
  uint32_t max_kept_diffs = 100;
  uint32_t max_diff_body_bytes = 2048;
};

struct Snapshot {
  std::vector<ListenerDef> listeners;
  std::vector<ClusterDef> clusters;
  AccessLogDef access_log;
  MirroringDef mirroring;

  // Where the config came from (a file path, "admin", ...) and the XXH3-64 of its text.
  std::string source;
  uint64_t content_hash = 0;

  // The version id given by the config manager (0 for a snapshot it did not publish), its
  // decimal text, and the response header that carries that text (empty: none).
  uint64_t version = 0;
  std::string version_text;
  std::string version_header;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace turnout
