// libFuzzer target for the config loader: any text must give either a snapshot or a list
// of errors, each with a reason, and never a crash, a hang or a leak.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  turnout::LoadResult result = turnout::loadConfigText(text, "fuzz");

  // Exactly one of the two outcomes.
  if ((result.snapshot != nullptr) != result.errors.empty()) {
    abort();
  }
  for (const turnout::ConfigError& error : result.errors) {
    if (error.reason.empty() || error.line < 0 || error.column < 0) {
      abort();
    }
  }
  std::string report = turnout::formatErrors("fuzz", result.errors);
  if (result.errors.empty() != report.empty()) {
    abort();
  }
  return 0;
}
