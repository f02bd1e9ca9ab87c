// Reads and writes state.json in the state directory.
#include "config/state_file.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/proto_json.h"

namespace turnout {
namespace {

std::string systemError(const std::string& action, const std::string& path) {
  return action + " " + path + ": " + std::strerror(errno);
}

// Writes all of `data` to `fd`, through short writes and signals.
bool writeAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t written = write(fd, data.data() + done, data.size() - done);
    if (written < 0 && errno == EINTR) {
      continue;
    }
    if (written <= 0) {
      return false;
    }
    done += static_cast<size_t>(written);
  }
  return true;
}

}  // namespace

std::string stateFilePath(const std::string& state_dir) {
  return state_dir + "/state.json";
}

bool readStateFile(const std::string& state_dir, config::RuntimeState* state, std::string* error) {
  std::string path = stateFilePath(state_dir);
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    if (errno == ENOENT) {
      state->Clear();
      return true;
    }
    *error = systemError("opening", path);
    return false;
  }

  std::stringstream text;
  text << file.rdbuf();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // A newer proxy may have written more.
  auto status = google::protobuf::util::JsonStringToMessage(text.str(), state, options);
  if (!status.ok()) {
    *error = path + " is not a valid state file: " + std::string(status.message());
    return false;
  }
  return true;
}

bool writeStateFile(const std::string& state_dir, const config::RuntimeState& state,
                    std::string* error) {
  if (mkdir(state_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    *error = systemError("creating", state_dir);
    return false;
  }

  std::string path = stateFilePath(state_dir);
  std::string temp = path + ".tmp";
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = systemError("creating", temp);
    return false;
  }
  bool written = writeAll(fd, printJson(state, true) + "\n") && fsync(fd) == 0;
  if (!written) {
    *error = systemError("writing", temp);
  }
  close(fd);
  if (!written) {
    unlink(temp.c_str());
    return false;
  }

  if (rename(temp.c_str(), path.c_str()) != 0) {
    *error = systemError("renaming to", path);
    unlink(temp.c_str());
    return false;
  }
  return true;
}

}  // namespace turnout
