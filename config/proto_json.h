// Prints protobuf messages as JSON the way the admin API, the state file and the content
// hash want them: schema field names, every field shown, deterministic.
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>

namespace turnout {

// JSON text of `message` with snake_case field names and fields at their default values
// included (a weight of 0 shows as 0, not as a missing key). One line, or indented when
// `pretty`. Any thread.
std::string printJson(const google::protobuf::Message& message, bool pretty = false);

// XXH3-64 of the one-line JSON form of `message`: equal for equal configs whatever the
// spelling of the text they came from.
uint64_t contentHash(const google::protobuf::Message& message);

// 16 lower-case hex digits.
std::string hashText(uint64_t hash);

}  // namespace turnout
