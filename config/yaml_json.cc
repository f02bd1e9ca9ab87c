// Turns YAML (or JSON) config text into the JSON text that the protobuf JSON mapping reads.
#include "config/yaml_json.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <unordered_set>

#include "config/field_syntax.h"

namespace turnout {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

SourceMark markOf(const YAML::Mark& mark) {
  if (mark.is_null()) {
    return {};
  }
  return {mark.line + 1, mark.column + 1};
}

SourceMark markOf(const YAML::Node& node) {
  return markOf(node.Mark());
}

// Notes where each document of a YAML stream starts and ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;

  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// False, with an error added, when the text holds more than one document. The documents
// are counted here with a bound rather than by YAML::LoadAll, because yaml-cpp 0.7 can
// report the same document again and again without consuming input (a stray ',' at the
// top level does it), and LoadAll then loops forever, allocating. A second document that
// starts where the first did is that case, reported as the syntax error it is.
bool checkSingleDocument(const std::string& text, std::vector<ConfigError>* errors) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentStarts documents;
  for (int i = 0; i < 2 && parser.HandleNextDocument(documents); i++) {
  }
  if (documents.starts.size() < 2) {
    return true;
  }

  SourceMark first = markOf(documents.starts[0]);
  SourceMark second = markOf(documents.starts[1]);
  if (documents.starts[0].pos == documents.starts[1].pos) {
    errors->push_back({"", "YAML syntax error: unexpected text", first.line, first.column});
  } else {
    errors->push_back(
        {"", "expected one YAML document, found a second one", second.line, second.column});
  }
  return false;
}

void appendJsonString(std::string_view text, std::string* out) {
  out->push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
          out->append(escaped);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// Levenshtein distance, for "did you mean" hints; both strings are short field names.
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); i++) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      size_t above = row[j];
      size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string unknownFieldReason(const Descriptor& message, const std::string& key) {
  std::string reason = "unknown field \"" + key + "\" in " + message.name();
  const FieldDescriptor* closest = nullptr;
  size_t best = 3;
  for (int i = 0; i < message.field_count(); i++) {
    size_t distance = editDistance(key, message.field(i)->name());
    if (distance < best) {
      best = distance;
      closest = message.field(i);
    }
  }
  if (closest != nullptr) {
    reason += " (did you mean \"" + closest->name() + "\"?)";
  }
  return reason;
}

// The field named `name` in either spelling the JSON mapping accepts ("route_config" or
// "routeConfig"), or nullptr.
const FieldDescriptor* findField(const Descriptor& message, const std::string& name) {
  const FieldDescriptor* field = message.FindFieldByName(name);
  for (int i = 0; field == nullptr && i < message.field_count(); i++) {
    if (message.field(i)->json_name() == name) {
      field = message.field(i);
    }
  }
  return field;
}

// The message type to check a field's value against; nullptr for scalars and for
// well-known types such as Duration, whose JSON form is a string.
const Descriptor* childSchema(const FieldDescriptor& field) {
  const Descriptor* type = field.message_type();
  if (type == nullptr || type->file()->package() == "google.protobuf") {
    return nullptr;
  }
  return type;
}

class Converter {
 public:
  Converter(YamlJson* out, const YamlLimits& limits, const std::unordered_set<std::string>& skip)
      : out_(out), limits_(limits), skip_(skip) {}

  void convertRoot(const YAML::Node& root, const Descriptor& schema) {
    if (root.IsNull()) {
      out_->json = "{}";
      return;
    }
    if (!root.IsMap()) {
      addError("", "the top level must be a mapping of fields", markOf(root));
      return;
    }
    convertMap(root, &schema, "", 0);
  }

 private:
  void addError(std::string path, std::string reason, SourceMark mark) {
    out_->errors.push_back({std::move(path), std::move(reason), mark.line, mark.column});
  }

  // False, once, when the depth or size limit is crossed; the conversion then stops.
  bool withinLimits(const YAML::Node& node, const std::string& path, int depth) {
    if (depth > limits_.max_depth) {
      addError(path, "nested more than " + std::to_string(limits_.max_depth) + " levels deep",
               markOf(node));
      stopped_ = true;
      return false;
    }
    if (out_->json.size() > limits_.max_json_bytes || ++nodes_ > limits_.max_nodes) {
      addError(path,
               "the config expands to more than " + std::to_string(limits_.max_nodes) +
                   " values or " + std::to_string(limits_.max_json_bytes) +
                   " bytes of JSON (YAML aliases?)",
               markOf(node));
      stopped_ = true;
      return false;
    }
    return true;
  }

  // `field` is the field the node is the value of (or an item of), or nullptr when unknown;
  // then map keys are copied unchecked and protobuf reports any mismatch.
  void convertValue(const YAML::Node& node, const FieldDescriptor* field, const std::string& path,
                    int depth) {
    if (!withinLimits(node, path, depth)) {
      return;
    }

    const Descriptor* schema = field != nullptr ? childSchema(*field) : nullptr;
    switch (node.Type()) {
      case YAML::NodeType::Map:
        convertMap(node, schema, path, depth);
        return;
      case YAML::NodeType::Sequence:
        convertSequence(node, field, path, depth);
        return;
      case YAML::NodeType::Scalar:
        appendScalar(node.Scalar(), field);
        return;
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        out_->json.append("null");
        return;
    }
  }

  // protobuf's JSON parser takes "true", "yes" and "1" for a bool but not "on"; YAML
  // users write any of them, so bool fields get the YAML spellings folded to true/false.
  void appendScalar(const std::string& text, const FieldDescriptor* field) {
    if (field != nullptr && field->type() == FieldDescriptor::TYPE_BOOL) {
      std::string lower = toLowerAscii(text);
      if (lower == "true" || lower == "yes" || lower == "on" || lower == "y") {
        out_->json.append("true");
        return;
      }
      if (lower == "false" || lower == "no" || lower == "off" || lower == "n") {
        out_->json.append("false");
        return;
      }
    }
    appendJsonString(text, &out_->json);
  }

  void convertSequence(const YAML::Node& node, const FieldDescriptor* field,
                       const std::string& path, int depth) {
    out_->json.push_back('[');
    for (size_t i = 0; i < node.size() && !stopped_; i++) {
      std::string item_path = path + "[" + std::to_string(i) + "]";
      out_->marks.emplace(item_path, markOf(node[i]));
      if (i > 0) {
        out_->json.push_back(',');
      }
      convertValue(node[i], field, item_path, depth + 1);
    }
    out_->json.push_back(']');
  }

  void convertMap(const YAML::Node& node, const Descriptor* schema, const std::string& path,
                  int depth) {
    std::unordered_set<std::string> seen;
    bool first = true;
    out_->json.push_back('{');
    for (const auto& entry : node) {
      if (stopped_) {
        break;
      }
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) {
        addError(path, "a field name must be a plain string", markOf(key));
        continue;
      }

      // Fields are looked up by both spellings the JSON mapping accepts; the path always
      // uses the schema's own name so validator paths and marks agree.
      const std::string& name = key.Scalar();
      const FieldDescriptor* field = nullptr;
      if (schema != nullptr) {
        field = findField(*schema, name);
      }
      std::string field_name = field != nullptr ? field->name() : name;
      std::string field_path = path.empty() ? field_name : path + "." + field_name;
      if (schema != nullptr && field == nullptr) {
        addError(field_path, unknownFieldReason(*schema, name), markOf(key));
        continue;
      }
      if (!seen.insert(field_name).second) {
        addError(field_path, "set more than once", markOf(key));
        continue;
      }
      out_->marks.emplace(field_path, markOf(key));
      if (skip_.count(field_path) != 0) {
        continue;
      }

      if (!first) {
        out_->json.push_back(',');
      }
      first = false;
      appendJsonString(name, &out_->json);
      out_->json.push_back(':');
      convertValue(entry.second, field, field_path, depth + 1);
    }
    out_->json.push_back('}');
  }

  YamlJson* out_;
  YamlLimits limits_;
  const std::unordered_set<std::string>& skip_;
  bool stopped_ = false;
  size_t nodes_ = 0;
};

}  // namespace

YamlJson yamlToJson(std::string_view text, const google::protobuf::Descriptor& schema,
                    const YamlLimits& limits, const std::unordered_set<std::string>& skip) {
  YamlJson result;
  std::string owned_text(text);

  // yaml-cpp reports syntax errors by exception; they stop here, with their position.
  YAML::Node root;
  try {
    if (!checkSingleDocument(owned_text, &result.errors)) {
      return result;
    }
    root = YAML::Load(owned_text);
  } catch (const YAML::Exception& e) {
    SourceMark mark = markOf(e.mark);
    result.errors.push_back({"", "YAML syntax error: " + e.msg, mark.line, mark.column});
    return result;
  }

  Converter converter(&result, limits, skip);
  converter.convertRoot(root, schema);
  return result;
}

}  // namespace turnout
