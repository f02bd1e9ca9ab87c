// Prints protobuf messages as JSON for the admin API, the state file and the content hash.
#include "config/proto_json.h"

#include <google/protobuf/util/json_util.h>
#include <xxhash.h>

#include <cstdio>

namespace turnout {

std::string printJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = pretty;
  std::string out;

  // Printing a message the library itself built cannot fail; an empty object is still
  // valid JSON if it ever did.
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) {
    out = "{}";
  }
  return out;
}

uint64_t contentHash(const google::protobuf::Message& message) {
  std::string json = printJson(message);
  return XXH3_64bits(json.data(), json.size());
}

std::string hashText(uint64_t hash) {
  char text[17];
  snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

}  // namespace turnout
