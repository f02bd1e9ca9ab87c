// Turns config text (YAML or JSON) into a validated, compiled Snapshot, or into the full
// list of what is wrong with it.
#include "config/loader.h"

#include <google/protobuf/util/json_util.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "config/snapshot_compiler.h"
#include "config/turnout.pb.h"
#include "config/validator.h"
#include "config/yaml_json.h"

namespace turnout {
namespace {

// Far beyond any real config; refusing larger text bounds the work an admin upload causes.
constexpr size_t kMaxConfigBytes = 4 * 1024 * 1024;

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
  return {path, message};
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

LoadResult failure(std::vector<ConfigError> errors) {
  LoadResult result;
  result.errors = std::move(errors);
  return result;
}

}  // namespace

LoadResult loadConfigText(std::string_view text, const std::string& source) {
  if (text.size() > kMaxConfigBytes) {
    return failure(
        {{"", "the config is larger than " + std::to_string(kMaxConfigBytes) + " bytes"}});
  }

  // YAML to JSON, refusing unknown fields with their lines.
  YamlJson converted = yamlToJson(text, *config::Bootstrap::descriptor());
  if (!converted.errors.empty()) {
    return failure(std::move(converted.errors));
  }

  // JSON to the schema's message; a value of the wrong type stops here.
  config::Bootstrap bootstrap;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(converted.json, &bootstrap, options);
  if (!status.ok()) {
    std::vector<ConfigError> errors = {errorFromProtobuf(std::string(status.message()))};
    addMarks(converted, &errors);
    return failure(std::move(errors));
  }

  // Every rule of the schema, all problems at once.
  std::vector<ConfigError> errors = validateConfig(bootstrap);
  if (!errors.empty()) {
    addMarks(converted, &errors);
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
