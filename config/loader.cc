// Turns config text (YAML or JSON) into a validated, compiled Snapshot, or into the full
// list of what is wrong with it.
#include "config/loader.h"

#include <google/protobuf/util/json_util.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <unordered_set>

#include "config/runtime_rules.h"
#include "config/snapshot_compiler.h"
#include "config/turnout.pb.h"
#include "config/validator.h"
#include "config/yaml_json.h"

namespace turnout {
namespace {

// Far beyond any real config; refusing larger text bounds the work an admin upload causes.
constexpr size_t kMaxConfigBytes = 4 * 1024 * 1024;

// Values of the wrong type reported in one load; each costs a conversion of the text.
constexpr int kMaxValueErrors = 10;

void eraseAll(std::string* text, std::string_view part) {
  for (size_t at = text->find(part); at != std::string::npos; at = text->find(part, at)) {
    text->erase(at, part.size());
  }
}

// protobuf's wording names internal types ("TYPE_UINT32", "type.googleapis.com/google.
// protobuf.Duration") and repeats the field name; users need the plain type and a hint.
std::string tidyProtobufReason(std::string reason) {
  eraseAll(&reason, "type.googleapis.com/google.protobuf.");
  eraseAll(&reason, "type.googleapis.com/turnout.config.");
  eraseAll(&reason, "TYPE_");

  size_t field = reason.find("Field '");
  size_t field_end = field == std::string::npos ? field : reason.find("', ", field);
  if (field_end != std::string::npos) {
    reason.erase(field, field_end + 3 - field);
  }
  if (reason.find("Duration") != std::string::npos) {
    reason += " (write a duration as seconds ending in 's', e.g. \"1.5s\")";
  }
  return reason;
}

// protobuf reports a JSON mapping failure as one message, in one of two shapes:
//   "(listeners[0].name): invalid value 123 for type TYPE_STRING"
//   "(listeners[0]) nme: Cannot find field."  (the parenthesis is absent at the top level)
// Unknown fields are caught before protobuf runs, so the first shape is the usual one.
ConfigError errorFromProtobuf(std::string message) {
  std::string path;
  if (!message.empty() && message.front() == '(') {
    size_t close = message.find(')');
    if (close != std::string::npos) {
      path = message.substr(1, close - 1);
      message.erase(0, close + 1);
    }
  }

  size_t start = message.find_first_not_of(": ");
  message.erase(0, start == std::string::npos ? message.size() : start);
  if (message.empty()) {
    message = "does not fit the schema";
  }
  return {path, tidyProtobufReason(message)};
}

// The mark of `path`, or of its nearest ancestor that was written in the text (a missing
// field is reported at the object that lacks it).
SourceMark findMark(const YamlJson& converted, std::string path) {
  while (!path.empty()) {
    auto found = converted.marks.find(path);
    if (found != converted.marks.end()) {
      return found->second;
    }
    size_t cut = path.find_last_of(".[");
    path.erase(cut == std::string::npos ? 0 : cut);
  }
  return {};
}

void addMarks(const YamlJson& converted, std::vector<ConfigError>* errors) {
  for (ConfigError& error : *errors) {
    if (error.line != 0) {
      continue;
    }
    SourceMark mark = findMark(converted, error.path);
    error.line = mark.line;
    error.column = mark.column;
  }
}

// Text to message: YAML to JSON (which refuses unknown fields, all of them, with their
// lines), then JSON to the schema's message. protobuf stops at the first value it cannot
// take, so each refused field is left out and the text converted again, to report up to
// kMaxValueErrors such values at once. A refused sequence item ends the search: leaving
// it out would shift the indices of the items after it.
std::vector<ConfigError> parseBootstrap(std::string_view text, config::Bootstrap* bootstrap,
                                        YamlJson* converted) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  std::unordered_set<std::string> skip;
  std::vector<ConfigError> errors;
  for (int attempt = 0; attempt < kMaxValueErrors; attempt++) {
    *converted = yamlToJson(text, *config::Bootstrap::descriptor(), {}, skip);
    if (!converted->errors.empty()) {
      return std::move(converted->errors);
    }

    bootstrap->Clear();
    auto status = google::protobuf::util::JsonStringToMessage(converted->json, bootstrap, options);
    if (status.ok()) {
      break;
    }
    ConfigError error = errorFromProtobuf(std::string(status.message()));
    bool skippable = !error.path.empty() && error.path.back() != ']' &&
                     converted->marks.count(error.path) != 0 && skip.count(error.path) == 0;
    skip.insert(error.path);
    errors.push_back(std::move(error));
    if (!skippable) {
      break;
    }
  }
  // protobuf does not find them in the order of the text; report them in that order.
  addMarks(*converted, &errors);
  std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  return errors;
}

// Appends the errors whose paths `errors` does not name yet. Both validators see a route
// name used twice in one virtual host; the user needs to read it once.
void appendNewPaths(const std::vector<ConfigError>& more, std::vector<ConfigError>* errors) {
  std::unordered_set<std::string> paths;
  for (const ConfigError& error : *errors) {
    paths.insert(error.path);
  }
  for (const ConfigError& error : more) {
    if (paths.count(error.path) == 0) {
      errors->push_back(error);
    }
  }
}

LoadResult failure(std::vector<ConfigError> errors) {
  LoadResult result;
  result.errors = std::move(errors);
  return result;
}

}  // namespace

std::vector<ConfigError> parseConfigText(std::string_view text, config::Bootstrap* bootstrap) {
  if (text.size() > kMaxConfigBytes) {
    return {{"", "the config is larger than " + std::to_string(kMaxConfigBytes) + " bytes"}};
  }
  YamlJson converted;
  return parseBootstrap(text, bootstrap, &converted);
}

void locateErrors(std::string_view text, std::vector<ConfigError>* errors) {
  if (text.size() > kMaxConfigBytes) {
    return;
  }
  addMarks(yamlToJson(text, *config::Bootstrap::descriptor()), errors);
}

LoadResult loadConfigText(std::string_view text, const std::string& source) {
  config::Bootstrap bootstrap;
  std::vector<ConfigError> parse_errors = parseConfigText(text, &bootstrap);
  if (!parse_errors.empty()) {
    return failure(std::move(parse_errors));
  }

  // Every rule of the schema and of the control side, all problems at once.
  std::vector<ConfigError> errors = validateConfig(bootstrap);
  appendNewPaths(validateRuntimeRules(bootstrap), &errors);
  if (!errors.empty()) {
    locateErrors(text, &errors);
    return failure(std::move(errors));
  }

  LoadResult result;
  result.snapshot = compileSnapshot(bootstrap, source, XXH3_64bits(text.data(), text.size()));
  return result;
}

LoadResult loadConfigFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return failure({{"", std::string("cannot open the file: ") + std::strerror(errno)}});
  }

  // Read in chunks and stop one chunk past the limit, so that loadConfigText reports a
  // huge file as too large without it being read whole.
  std::string text;
  char chunk[64 * 1024];
  while (text.size() <= kMaxConfigBytes) {
    file.read(chunk, sizeof(chunk));
    text.append(chunk, static_cast<size_t>(file.gcount()));
    if (!file) {
      break;
    }
  }
  if (file.bad()) {
    return failure({{"", std::string("cannot read the file: ") + std::strerror(errno)}});
  }
  return loadConfigText(text, path);
}

std::string formatErrors(const std::string& source, const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& error : errors) {
    out += source + ": ";
    if (!error.path.empty()) {
      out += error.path + ": ";
    }
    out += error.reason;
    if (error.line > 0) {
      out +=
          " (line " + std::to_string(error.line) + ", column " + std::to_string(error.column) + ")";
    }
    out += '\n';
  }
  return out;
}

}  // namespace turnout
