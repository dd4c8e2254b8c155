// The XML plist scanner: a single pass over the text that checks what
// libplist 2.2 lets through silently and records where each value is.
// It does not build values (libplist does); it tracks only the element
// stack, the current key path and the keys seen per dictionary.
#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <set>

#include "manifest/decoders.hpp"
#include "manifest/limits.hpp"

namespace xpcd::manifest::detail {
namespace {

struct Frame {
  std::string tag;  // "plist", "dict", "array"
  std::string path;
  std::set<std::string> keys;  // dict: keys seen so far
  std::string pending_key;     // dict: key waiting for its value
  Position pending_pos;
  bool has_key = false;
  size_t next_index = 0;       // array: index of the next element
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_scalar_tag(std::string_view t) {
  return t == "string" || t == "integer" || t == "real" || t == "date" || t == "data" ||
         t == "true" || t == "false";
}

class Scanner {
 public:
  Scanner(std::string_view text, std::string_view file) : s_(text), file_(file) {}
  XmlScan run();

 private:
  // Cursor.
  bool at_end() const { return i_ >= s_.size(); }
  bool starts(std::string_view p) const { return s_.substr(i_, p.size()) == p; }
  void advance(size_t n);
  bool skip_past(std::string_view end);
  // Reporting.
  void report(Severity sev, Position pos, std::string path, std::string msg);
  void fail(Position pos, std::string path, std::string msg);
  // Markup.
  void markup();
  void start_tag(Position pos);
  void end_tag(Position pos);
  bool read_name(std::string& name);
  bool read_text_until_end(std::string_view tag, std::string& out, Position pos);
  bool decode_entity(std::string& out);
  void text(Position pos);
  // Values.
  std::string open_value(Position pos, Position& where);
  bool begin_value(Position pos, std::string& path, Position& where);
  void container(std::string_view tag, Position pos, bool empty);
  void scalar(std::string_view tag, Position pos, bool empty);
  void key(Position pos, bool empty);
  void check_integer(std::string_view text, Position pos, const std::string& path);
  void check_real(std::string_view text, Position pos, const std::string& path);

  std::string_view s_;
  std::string_view file_;
  size_t i_ = 0;
  Position here_{1, 1};
  std::vector<Frame> stack_;
  size_t values_ = 0;
  bool root_done_ = false;
  bool trailing_reported_ = false;
  XmlScan out_;
};

void Scanner::advance(size_t n) {
  for (size_t k = 0; k < n && i_ < s_.size(); ++k, ++i_) {
    if (s_[i_] == '\n') {
      ++here_.line;
      here_.col = 1;
    } else {
      ++here_.col;
    }
  }
}

bool Scanner::skip_past(std::string_view end) {
  size_t at = s_.find(end, i_);
  if (at == std::string_view::npos) return false;
  advance(at + end.size() - i_);
  return true;
}

void Scanner::report(Severity sev, Position pos, std::string path, std::string msg) {
  out_.diagnostics.push_back({sev, std::string(file_), pos, std::move(path), std::move(msg)});
}

void Scanner::fail(Position pos, std::string path, std::string msg) {
  report(Severity::error, pos, std::move(path), std::move(msg));
  out_.fatal = true;
}

XmlScan Scanner::run() {
  if (s_.substr(0, 3) == "\xEF\xBB\xBF") advance(3);
  while (!at_end() && !out_.fatal) {
    Position pos = here_;
    if (s_[i_] == '<') {
      markup();
    } else {
      text(pos);
    }
  }
  if (!out_.fatal && !stack_.empty()) {
    fail(here_, stack_.back().path,
         fmt::format("unexpected end of file inside <{}> (expected </{}>)", stack_.back().tag,
                     stack_.back().tag));
  }
  if (!out_.fatal && !root_done_) fail(here_, "", "no property list in the file (expected <plist>)");
  return std::move(out_);
}

void Scanner::text(Position pos) {
  while (!at_end() && is_space(s_[i_])) advance(1);
  pos = here_;  // report text where it starts, not where the whitespace before it does
  size_t end = s_.find('<', i_);
  if (end == std::string_view::npos) end = s_.size();
  std::string_view t = trim(s_.substr(i_, end - i_));
  advance(end - i_);
  if (t.empty()) return;
  if (root_done_) {
    if (!trailing_reported_) {
      report(Severity::warning, pos, "",
             fmt::format("text after the end of the property list is ignored (got '{}')",
                         printable(t, 40)));
    }
    trailing_reported_ = true;
    return;
  }
  std::string path = stack_.empty() ? "" : stack_.back().path;
  std::string hint = t.front() == '#' ? " (a C preprocessor line: this file is a cpp template)" : "";
  report(Severity::error, pos, path,
         fmt::format("unexpected text '{}' between elements{}", printable(t, 40), hint));
}

void Scanner::markup() {
  Position pos = here_;
  if (starts("<?")) {
    if (!skip_past("?>")) fail(pos, "", "unterminated processing instruction");
  } else if (starts("<!--")) {
    if (!skip_past("-->")) fail(pos, "", "unterminated comment (expected -->)");
  } else if (starts("<![CDATA[")) {
    fail(pos, stack_.empty() ? "" : stack_.back().path, "CDATA outside a <string> or <key>");
  } else if (starts("<!")) {
    size_t sub = s_.find('[', i_), close = s_.find('>', i_);
    if (sub != std::string_view::npos && sub < close) close = s_.find("]>", sub);
    if (close == std::string_view::npos) return fail(pos, "", "unterminated <!DOCTYPE>");
    advance(close - i_ + 1);
  } else if (starts("</")) {
    end_tag(pos);
  } else {
    start_tag(pos);
  }
}

bool Scanner::read_name(std::string& name) {
  size_t b = i_;
  while (!at_end() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' ||
                       s_[i_] == '-' || s_[i_] == ':' || s_[i_] == '.')) {
    advance(1);
  }
  name = std::string(s_.substr(b, i_ - b));
  return !name.empty();
}

void Scanner::start_tag(Position pos) {
  advance(1);
  std::string name;
  if (!read_name(name)) return fail(pos, "", "malformed tag (expected an element name after '<')");
  size_t close = s_.find('>', i_);
  if (close == std::string_view::npos) return fail(pos, "", fmt::format("unterminated <{}>", name));
  bool empty = close > i_ && s_[close - 1] == '/';
  advance(close - i_ + 1);  // attributes are not checked: only plist's version
  if (name == "plist") {
    if (!stack_.empty() || root_done_) return fail(pos, "", "nested or second <plist>");
    if (empty) {
      root_done_ = true;
      return report(Severity::error, pos, "", "empty property list");
    }
    stack_.push_back({"plist", "", {}, {}, {}, false, 0});
  } else if (name == "dict" || name == "array") {
    container(name, pos, empty);
  } else if (name == "key") {
    key(pos, empty);
  } else if (is_scalar_tag(name)) {
    scalar(name, pos, empty);
  } else {
    fail(pos, stack_.empty() ? "" : stack_.back().path,
         fmt::format("unknown element <{}> (expected a plist element)", printable(name, 40)));
  }
}

void Scanner::end_tag(Position pos) {
  advance(2);
  std::string name;
  read_name(name);
  if (!skip_past(">")) return fail(pos, "", "unterminated end tag");
  if (stack_.empty() || stack_.back().tag != name) {
    std::string expected = stack_.empty() ? "nothing" : "</" + stack_.back().tag + ">";
    return fail(pos, stack_.empty() ? "" : stack_.back().path,
                fmt::format("mismatched </{}> (expected {})", printable(name, 40), expected));
  }
  if (stack_.back().has_key) {
    report(Severity::error, stack_.back().pending_pos,
           child_path(stack_.back().path, stack_.back().pending_key), "key without a value");
  }
  stack_.pop_back();
  if (stack_.empty()) root_done_ = true;
}

// Claims the next value slot of the enclosing container: returns the value's
// concrete key path and sets where to the position to report it at.
std::string Scanner::open_value(Position pos, Position& where) {
  where = pos;
  if (stack_.empty()) {
    if (root_done_) fail(pos, "", "a second value after the property list");
    return "";
  }
  Frame& f = stack_.back();
  if (f.tag == "plist") {
    if (f.next_index++ > 0) fail(pos, "", "more than one top-level value in <plist>");
    return "";
  }
  if (f.tag == "array") return index_path(f.path, f.next_index++);
  if (!f.has_key) {
    fail(pos, f.path, "value without a key in a dictionary (expected <key>)");
    return f.path;
  }
  f.has_key = false;
  where = f.pending_pos;
  return child_path(f.path, f.pending_key);
}

// Opens a value (container or scalar): its path, where it is, and the
// value count. False when the scan must stop.
bool Scanner::begin_value(Position pos, std::string& path, Position& where) {
  path = open_value(pos, where);
  if (out_.fatal) return false;
  out_.positions.emplace_back(path, where);
  if (++values_ > limits::kMaxValues) {
    fail(pos, path, fmt::format("too many values (limit {})", limits::kMaxValues));
    return false;
  }
  return true;
}

void Scanner::container(std::string_view tag, Position pos, bool empty) {
  std::string path;
  Position where;
  if (!begin_value(pos, path, where)) return;
  size_t depth = 1;
  for (const Frame& f : stack_) depth += f.tag != "plist";
  if (depth > limits::kMaxDepth) {
    return fail(pos, path, fmt::format("nesting too deep (limit {} levels)", limits::kMaxDepth));
  }
  if (!empty) stack_.push_back({std::string(tag), path, {}, {}, {}, false, 0});
  if (stack_.empty()) root_done_ = true;
}

void Scanner::key(Position pos, bool empty) {
  std::string text;
  if (!empty && !read_text_until_end("key", text, pos)) return;
  if (stack_.empty() || stack_.back().tag != "dict") {
    return fail(pos, stack_.empty() ? "" : stack_.back().path, "<key> outside a dictionary");
  }
  Frame& f = stack_.back();
  std::string path = child_path(f.path, text);
  if (f.has_key) {
    report(Severity::error, f.pending_pos, child_path(f.path, f.pending_key), "key without a value");
  }
  if (!f.keys.insert(text).second) {
    report(Severity::error, pos, path,
           "duplicate key (libplist would silently keep only the last value)");
  }
  f.pending_key = std::move(text);
  f.pending_pos = pos;
  f.has_key = true;
}

void Scanner::scalar(std::string_view tag, Position pos, bool empty) {
  std::string path;
  Position where;
  if (!begin_value(pos, path, where)) return;
  if (tag == "true" || tag == "false") {
    if (!empty && !skip_past(fmt::format("</{}>", tag))) fail(pos, path, "unterminated <true>/<false>");
    if (stack_.empty()) root_done_ = true;
    return;
  }
  std::string text;
  if (!empty && !read_text_until_end(tag, text, pos)) return;
  if (tag == "integer") check_integer(text, where, path);
  if (tag == "real") check_real(text, where, path);
  if (stack_.empty()) root_done_ = true;
}

bool Scanner::read_text_until_end(std::string_view tag, std::string& out, Position pos) {
  std::string end = fmt::format("</{}>", tag);
  while (!at_end()) {
    if (starts(end)) {
      advance(end.size());
      return true;
    }
    if (starts("<![CDATA[")) {
      size_t close = s_.find("]]>", i_);
      if (close == std::string_view::npos) break;
      out.append(s_.substr(i_ + 9, close - i_ - 9));
      advance(close + 3 - i_);
    } else if (starts("<!--")) {
      if (!skip_past("-->")) break;
    } else if (s_[i_] == '<') {
      fail(here_, stack_.empty() ? "" : stack_.back().path,
           fmt::format("markup inside <{}> (expected text and {})", tag, end));
      return false;
    } else if (s_[i_] == '&') {
      if (!decode_entity(out)) return false;
    } else {
      out += s_[i_];
      advance(1);
    }
  }
  fail(pos, stack_.empty() ? "" : stack_.back().path, fmt::format("unterminated <{}>", tag));
  return false;
}

bool Scanner::decode_entity(std::string& out) {
  Position pos = here_;
  size_t semi = s_.find(';', i_);
  if (semi == std::string_view::npos || semi - i_ > 12) {
    fail(pos, stack_.empty() ? "" : stack_.back().path, "malformed entity (expected &name;)");
    return false;
  }
  std::string_view ent = s_.substr(i_ + 1, semi - i_ - 1);
  static constexpr std::pair<std::string_view, char> named[] = {
      {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
  for (auto [name, ch] : named) {
    if (ent == name) {
      out += ch;
      advance(semi - i_ + 1);
      return true;
    }
  }
  uint32_t cp = 0;
  bool hex = ent.size() > 1 && ent[0] == '#' && (ent[1] == 'x' || ent[1] == 'X');
  std::string_view digits = ent.substr(hex ? 2 : 1);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
  if (ent.empty() || ent[0] != '#' || digits.empty() || ec != std::errc() ||
      p != digits.data() + digits.size() || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) {
    fail(pos, stack_.empty() ? "" : stack_.back().path,
         fmt::format("unknown entity '&{};'", printable(ent, 12)));
    return false;
  }
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  advance(semi - i_ + 1);
  return true;
}

void Scanner::check_integer(std::string_view raw, Position pos, const std::string& path) {
  std::string_view t = trim(raw);
  bool neg = !t.empty() && t[0] == '-';
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) t.remove_prefix(1);
  bool hex = t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
  std::string_view digits = hex ? t.substr(2) : t;
  uint64_t mag = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), mag, hex ? 16 : 10);
  bool syntax_ok = !digits.empty() && p == digits.data() + digits.size();
  if (!syntax_ok || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return report(Severity::error, pos, path,
                  fmt::format("not an integer (expected decimal digits, got '{}')", printable(raw, 40)));
  }
  uint64_t limit = neg ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  if (ec == std::errc::result_out_of_range || mag > limit) {
    report(Severity::error, pos, path,
           fmt::format("integer out of range (expected -2^63 to 2^63-1, got {})", printable(raw, 40)));
  }
}

void Scanner::check_real(std::string_view raw, Position pos, const std::string& path) {
  std::string_view t = trim(raw);
  if (!t.empty() && t[0] == '+') t.remove_prefix(1);
  double d = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size()) {
    report(Severity::error, pos, path,
           fmt::format("not a real number (expected e.g. 1.5, got '{}')", printable(raw, 40)));
  }
}

}  // namespace

XmlScan scan_xml_plist(std::string_view bytes, std::string_view file) {
  return Scanner(bytes, file).run();
}

}  // namespace xpcd::manifest::detail
