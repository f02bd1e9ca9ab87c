// Turns YAML (or JSON) config text into the JSON text that the protobuf JSON mapping reads,
// checking field names against the schema on the way so that every misspelt field is
// reported at once, with its line, rather than only the first one protobuf meets.
#pragma once

#include <google/protobuf/descriptor.h>

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/loader.h"

namespace turnout {

// Where a field was written: 1-based line and column of its key (or of the sequence item).
struct SourceMark {
  int line = 0;
  int column = 0;
};

// Bounds on the work one conversion may do. Aliases can expand a small text into a huge
// tree ("billion laughs"), and "&a [*a]" builds a node that contains itself; real configs
// stay far below the defaults. Tests lower them to stay fast.
struct YamlLimits {
  int max_depth = 64;
  size_t max_nodes = 500000;
  size_t max_json_bytes = 16 * 1024 * 1024;
};

struct YamlJson {
  // The JSON text; meaningful only when errors is empty.
  std::string json;

  // YAML syntax errors, unknown or repeated fields, nesting or size beyond the limits.
  std::vector<ConfigError> errors;

  // Every field and sequence item, by its path in the schema's own field names
  // ("listeners[0].route_config"), even when the text used the lowerCamelCase spelling.
  std::unordered_map<std::string, SourceMark> marks;
};

// Converts `text`, whose top level must be a mapping of `schema`'s fields (or empty).
// Every scalar becomes a JSON string, whatever it looks like: the protobuf JSON mapping
// accepts quoted numbers and durations, and a string field then keeps "123" or "true" as
// written. The one exception is a bool field, where the YAML spellings true/yes/on/y and
// false/no/off/n (any case) become JSON true and false. A YAML null (empty value, "~", "null")
// becomes JSON null, which leaves the field unset. Any thread; touches no global state.
//
// Fields whose paths are in `skip` are left out of the JSON (not out of the marks): the
// loader uses it to get past a value protobuf refused and find the next one.
YamlJson yamlToJson(std::string_view text, const google::protobuf::Descriptor& schema,
                    const YamlLimits& limits = {},
                    const std::unordered_set<std::string>& skip = {});

}  // namespace turnout
