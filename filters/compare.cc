// Compares a mirrored answer with the primary answer and discounts noise.
#include "filters/compare.h"

#include <algorithm>
#include <string_view>

#include "config/json_path.h"
#include "filters/json.h"

namespace turnout {
namespace {

// Renderings of values in a difference are cut to this many bytes.
constexpr size_t kMaxRenderedBytes = 80;

constexpr const char* kAbsent = "(absent)";

std::string shorten(std::string text) {
  if (text.size() > kMaxRenderedBytes) {
    text.resize(kMaxRenderedBytes - 3);
    text += "...";
  }
  return text;
}

std::string quoted(const std::string& text) {
  std::string out;
  appendJsonString(text, &out);
  return shorten(std::move(out));
}

std::string rendered(const JsonValue* value) {
  if (value == nullptr) {
    return kAbsent;
  }
  std::string out;
  appendJson(*value, &out);
  return shorten(std::move(out));
}

class Differences {
 public:
  void add(DifferenceKind kind, std::string where, std::string primary, std::string candidate) {
    if (list_.size() < kMaxDifferences) {
      list_.push_back({kind, std::move(where), std::move(primary), std::move(candidate)});
    }
  }

  std::vector<Difference> take() { return std::move(list_); }

 private:
  std::vector<Difference> list_;
};

void compareHeaders(const MirrorCompareDef& spec, const ResponseSample& primary,
                    const ResponseSample& candidate, Differences* out) {
  for (const std::string& name : spec.headers) {
    const std::string* a = primary.header(name);
    const std::string* b = candidate.header(name);
    bool same = (a == nullptr && b == nullptr) || (a != nullptr && b != nullptr && *a == *b);
    if (!same) {
      out->add(DifferenceKind::Header, name, a != nullptr ? quoted(*a) : kAbsent,
               b != nullptr ? quoted(*b) : kAbsent);
    }
  }
}

void compareBytes(const ResponseSample& primary, const ResponseSample& candidate,
                  Differences* out) {
  if (primary.body_bytes == candidate.body_bytes && primary.body == candidate.body) {
    return;
  }
  const std::string& a = primary.body;
  const std::string& b = candidate.body;
  auto mismatch = std::mismatch(a.begin(), a.begin() + std::min(a.size(), b.size()), b.begin());
  uint64_t at = static_cast<uint64_t>(mismatch.first - a.begin());
  std::string where_text = " bytes, first difference at byte " + std::to_string(at);
  if (at == std::min(a.size(), b.size()) && primary.body_bytes == candidate.body_bytes) {
    where_text = " bytes, differing after the kept bytes";
  }
  out->add(DifferenceKind::Body, "body", std::to_string(primary.body_bytes) + " bytes",
           std::to_string(candidate.body_bytes) + where_text);
}

bool stepMatches(const JsonPathStep& pattern, const JsonPathStep& step) {
  switch (pattern.kind) {
    case JsonPathStep::Kind::Key:
      return step.kind == JsonPathStep::Kind::Key && step.key == pattern.key;
    case JsonPathStep::Kind::Index:
      return step.kind == JsonPathStep::Kind::Index && step.index == pattern.index;
    case JsonPathStep::Kind::AnyKey:
      return step.kind == JsonPathStep::Kind::Key;
    case JsonPathStep::Kind::AnyIndex:
      return step.kind == JsonPathStep::Kind::Index;
  }
  return false;
}

bool isIgnored(const std::vector<JsonPath>& patterns, const JsonPath& path) {
  for (const JsonPath& pattern : patterns) {
    if (pattern.size() == path.size() &&
        std::equal(pattern.begin(), pattern.end(), path.begin(), stepMatches)) {
      return true;
    }
  }
  return false;
}

bool isIntegerLiteral(const std::string& text) {
  return text.find_first_of(".eE") == std::string::npos;
}

// Integers compare exactly by their text (beyond 2^53 doubles would merge neighbours);
// other numbers by value, so 1.0, 1 and 1e0 are equal.
bool numbersEqual(const JsonValue& a, const JsonValue& b) {
  if (a.text == b.text) {
    return true;
  }
  if (isIntegerLiteral(a.text) && isIntegerLiteral(b.text)) {
    return a.number == 0 && b.number == 0;
  }
  return a.number == b.number;
}

// Object members sorted by key; of a repeated key the last one counts, as most readers do.
std::vector<std::pair<std::string_view, const JsonValue*>> sortedMembers(const JsonValue& value) {
  std::vector<std::pair<std::string_view, const JsonValue*>> members;
  for (const auto& [key, member] : value.members) {
    members.emplace_back(key, &member);
  }
  std::stable_sort(members.begin(), members.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<std::string_view, const JsonValue*>> unique;
  for (const auto& member : members) {
    if (!unique.empty() && unique.back().first == member.first) {
      unique.back() = member;
    } else {
      unique.push_back(member);
    }
  }
  return unique;
}

class JsonComparer {
 public:
  JsonComparer(const MirrorCompareDef& spec, Differences* out) : spec_(spec), out_(out) {}

  // Either side may be null: the value is absent there.
  void compare(const JsonValue* a, const JsonValue* b) {
    if (isIgnored(spec_.ignored_json_paths, path_)) {
      return;
    }
    if (a == nullptr || b == nullptr || a->type != b->type) {
      report(a, b);
      return;
    }
    bool same = true;
    switch (a->type) {
      case JsonValue::Type::Null:
        break;
      case JsonValue::Type::Bool:
        same = a->boolean == b->boolean;
        break;
      case JsonValue::Type::Number:
        same = numbersEqual(*a, *b);
        break;
      case JsonValue::Type::String:
        same = a->text == b->text;
        break;
      case JsonValue::Type::Array:
        compareArrays(*a, *b);
        return;
      case JsonValue::Type::Object:
        compareObjects(*a, *b);
        return;
    }
    if (!same) {
      report(a, b);
    }
  }

 private:
  void compareArrays(const JsonValue& a, const JsonValue& b) {
    size_t count = std::max(a.items.size(), b.items.size());
    for (size_t i = 0; i < count; ++i) {
      JsonPathStep step;
      step.kind = JsonPathStep::Kind::Index;
      step.index = i;
      path_.push_back(step);
      compare(i < a.items.size() ? &a.items[i] : nullptr,
              i < b.items.size() ? &b.items[i] : nullptr);
      path_.pop_back();
    }
  }

  void compareObjects(const JsonValue& a, const JsonValue& b) {
    auto left = sortedMembers(a);
    auto right = sortedMembers(b);
    size_t i = 0;
    size_t j = 0;
    while (i < left.size() || j < right.size()) {
      bool take_left = j == right.size() || (i < left.size() && left[i].first <= right[j].first);
      bool take_right = i == left.size() || (j < right.size() && right[j].first <= left[i].first);
      JsonPathStep step;
      step.key = std::string(take_left ? left[i].first : right[j].first);
      path_.push_back(std::move(step));
      compare(take_left ? left[i].second : nullptr, take_right ? right[j].second : nullptr);
      path_.pop_back();
      i += take_left ? 1 : 0;
      j += take_right ? 1 : 0;
    }
  }

  void report(const JsonValue* a, const JsonValue* b) {
    out_->add(DifferenceKind::Body, jsonPathText(path_), rendered(a), rendered(b));
  }

  const MirrorCompareDef& spec_;
  Differences* out_;
  JsonPath path_;
};

void compareBodies(const MirrorCompareDef& spec, const ResponseSample& primary,
                   const ResponseSample& candidate, Differences* out) {
  switch (spec.body) {
    case MirrorCompareDef::Body::Ignore:
      return;
    case MirrorCompareDef::Body::Exact:
      compareBytes(primary, candidate, out);
      return;
    case MirrorCompareDef::Body::Json:
      break;
  }

  // A body cut at the limit is no whole document; one that does not parse is compared as
  // the bytes it is.
  std::optional<JsonValue> a;
  std::optional<JsonValue> b;
  if (!primary.truncated() && !candidate.truncated()) {
    a = parseJson(primary.body);
    b = parseJson(candidate.body);
  }
  if (!a || !b) {
    compareBytes(primary, candidate, out);
    return;
  }
  JsonComparer(spec, out).compare(&*a, &*b);
}

std::vector<Difference> differencesOf(const MirrorCompareDef& spec, const ResponseSample& primary,
                                      const ResponseSample& candidate) {
  Differences out;
  if (primary.status != candidate.status) {
    out.add(DifferenceKind::Status, "status", std::to_string(primary.status),
            std::to_string(candidate.status));
  }
  compareHeaders(spec, primary, candidate, &out);
  compareBodies(spec, primary, candidate, &out);
  return out.take();
}

// True when `path` is `outer` or lies inside it ("$.a[1].b" inside "$.a").
bool isInside(const std::string& path, const std::string& outer) {
  if (path.size() < outer.size() || path.compare(0, outer.size(), outer) != 0) {
    return false;
  }
  return path.size() == outer.size() || path[outer.size()] == '.' || path[outer.size()] == '[';
}

bool isNoise(const Difference& difference, const std::vector<Difference>& noise) {
  for (const Difference& known : noise) {
    if (known.kind != difference.kind) {
      continue;
    }
    if (known.kind != DifferenceKind::Body) {
      if (known.where == difference.where) {
        return true;
      }
      continue;
    }

    // A whole-body difference between the primary's own answers makes any body
    // difference noise: nothing finer is known.
    if (known.where == "body" || isInside(difference.where, known.where)) {
      return true;
    }
  }
  return false;
}

}  // namespace

const std::string* ResponseSample::header(const std::string& lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) {
      return &value;
    }
  }
  return nullptr;
}

const char* differenceKindName(DifferenceKind kind) {
  switch (kind) {
    case DifferenceKind::Status:
      return "status";
    case DifferenceKind::Header:
      return "header";
    case DifferenceKind::Body:
      return "body";
  }
  return "body";
}

bool CompareResult::differs(DifferenceKind kind) const {
  return std::any_of(differences.begin(), differences.end(),
                     [kind](const Difference& difference) { return difference.kind == kind; });
}

CompareResult compareResponses(const MirrorCompareDef& spec, const ResponseSample& primary,
                               const ResponseSample& candidate, const ResponseSample* secondary) {
  CompareResult result;
  result.differences = differencesOf(spec, primary, candidate);
  if (secondary == nullptr || result.differences.empty()) {
    return result;
  }

  std::vector<Difference> noise = differencesOf(spec, primary, *secondary);
  std::vector<Difference> counted;
  for (Difference& difference : result.differences) {
    if (isNoise(difference, noise)) {
      ++result.noise;
    } else {
      counted.push_back(std::move(difference));
    }
  }
  result.differences = std::move(counted);
  return result;
}

std::string describeDifferences(const CompareResult& result, size_t max_lines) {
  std::string out;
  size_t shown = std::min(max_lines, result.differences.size());
  for (size_t i = 0; i < shown; ++i) {
    const Difference& difference = result.differences[i];
    std::string kind = differenceKindName(difference.kind);
    out += kind;
    if (difference.where != kind) {
      out += " " + difference.where;
    }
    out += ": " + difference.primary + " -> " + difference.candidate + "\n";
  }
  if (result.differences.size() > shown) {
    out += "... and " + std::to_string(result.differences.size() - shown) + " more\n";
  }
  return out;
}

}  // namespace turnout
