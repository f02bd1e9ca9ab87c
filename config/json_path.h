// The syntax of the JSON paths that a parallel run leaves out of its body comparison
// (MirrorCompare.ignored_json_paths), parsed once when the config is compiled.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/snapshot.h"

namespace turnout {

// Parses "$.meta.timestamp", "meta.timestamp", "items[*].id", "items[0]", "*.etag" or "$"
// (the whole body). Steps are object keys separated by '.', "[N]" (an array index) or
// "[*]" (any index) right after a key or another bracket, and "*" for any key. A key is
// one or more bytes other than '.', '[', ']' and '*'. Returns nullopt with `*reason` set
// for anything else.
std::optional<JsonPath> parseJsonPath(std::string_view text, std::string* reason);

// The path as text in the syntax above, always with the leading "$".
std::string jsonPathText(const JsonPath& path);

}  // namespace turnout
