#pragma once

#include <cctype>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// Reads the shell examples of a Markdown guide and the curl commands in them, well enough to
// check them against the OpenAPI document. The shell grammar understood is the part the guide
// uses (quotes, line continuations, pipes, $(...), here-documents); anything else in a curl
// command is an error, so a new kind of example cannot slip past the checks unread.
namespace harmony::test::docs {

struct ShBlock {
  int line = 0;  // of the opening fence, 1-based
  std::string text;
};

inline std::vector<ShBlock> sh_blocks(const std::string& markdown) {
  std::vector<ShBlock> blocks;
  std::istringstream in(markdown);
  std::string line;
  int number = 0;
  std::optional<ShBlock> open;
  bool in_other_fence = false;
  while (std::getline(in, line)) {
    ++number;
    if (open) {
      if (line == "```") {
        blocks.push_back(std::move(*open));
        open.reset();
      } else {
        open->text += line + "\n";
      }
    } else if (line.starts_with("```") && line.find('`', line.find_first_not_of('`')) == std::string::npos) {
      // (A fence's info string holds no backtick: "```` ```sh ````" is inline code, not a fence.)
      if (in_other_fence) {
        in_other_fence = false;
      } else if (line == "```sh") {
        open = ShBlock{number, ""};
      } else {
        in_other_fence = true;
      }
    }
  }
  if (open) throw std::runtime_error("unclosed ```sh block at line " + std::to_string(open->line));
  return blocks;
}

struct Token {
  std::string text;
  bool op = false;  // a shell operator character ($( counts as one), not a word
};

// Splits one logical line into words and operators. Quotes are removed, variables are kept as
// written ("$TOKEN" stays $TOKEN).
inline std::vector<Token> shell_tokens(const std::string& line) {
  std::vector<Token> tokens;
  std::string word;
  bool in_word = false;
  auto flush = [&] {
    if (in_word) tokens.push_back({word, false});
    word.clear();
    in_word = false;
  };
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == ' ' || c == '\t') {
      flush();
    } else if (c == '#' && !in_word) {
      break;
    } else if (c == '\'') {
      size_t end = line.find('\'', i + 1);
      if (end == std::string::npos) throw std::runtime_error("unclosed ' in: " + line);
      word += line.substr(i + 1, end - i - 1);
      in_word = true;
      i = end;
    } else if (c == '"') {
      in_word = true;
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size() &&
            std::string("\"\\$`").find(line[i + 1]) != std::string::npos)
          ++i;
        word += line[i];
      }
      if (i >= line.size()) throw std::runtime_error("unclosed \" in: " + line);
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
      in_word = true;
    } else if (c == '$' && i + 1 < line.size() && line[i + 1] == '(') {
      flush();
      tokens.push_back({"$(", true});
      ++i;
    } else if (std::string("|&;()<>").find(c) != std::string::npos) {
      flush();
      tokens.push_back({std::string(1, c), true});
    } else {
      word += c;
      in_word = true;
    }
  }
  flush();
  return tokens;
}

struct CurlCommand {
  int line = 0;        // in the Markdown file
  std::string source;  // the logical line, for messages
  std::string method;  // upper case
  std::string url;     // as written
  std::string path;    // after $SPARKLE_URL, without the query
  std::vector<std::string> query_names;
  std::map<std::string, std::string> headers;  // lower-case names
  std::optional<std::string> body;             // -d/--data text (or the here-document for @-)
  bool uploads_file = false;                   // -T
  bool fails_on_error = false;                 // -f or --fail-with-body: the example expects success
};

namespace detail {

inline std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

inline CurlCommand parse_curl(const std::vector<std::string>& args, int line, const std::string& source,
                              const std::optional<std::string>& heredoc) {
  CurlCommand cmd;
  cmd.line = line;
  cmd.source = source;
  std::optional<std::string> method;
  bool get = false;
  auto where = [&] { return " (docs/api.md:" + std::to_string(line) + ": " + source + ")"; };
  auto take = [&](size_t& i, const std::string& option) -> std::string {
    if (i + 1 >= args.size()) throw std::runtime_error(option + " needs a value" + where());
    return args[++i];
  };
  auto set_body = [&](const std::string& value) {
    if (value == "@-") {
      if (!heredoc) throw std::runtime_error("--data @- without a here-document" + where());
      cmd.body = *heredoc;
    } else if (value.starts_with("@")) {
      throw std::runtime_error("bodies from files are not checked; use -d or a here-document" + where());
    } else {
      cmd.body = value;
    }
  };
  auto add_header = [&](const std::string& value) {
    auto colon = value.find(':');
    if (colon == std::string::npos) throw std::runtime_error("bad header " + value + where());
    auto start = value.find_first_not_of(' ', colon + 1);
    cmd.headers[lower(value.substr(0, colon))] = start == std::string::npos ? "" : value.substr(start);
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a.starts_with("--")) {
      if (a == "--request") {
        method = take(i, a);
      } else if (a == "--data" || a == "--data-binary" || a == "--data-raw") {
        set_body(take(i, a));
      } else if (a == "--upload-file") {
        take(i, a);
        cmd.uploads_file = true;
      } else if (a == "--header") {
        add_header(take(i, a));
      } else if (a == "--output" || a == "--write-out" || a == "--dump-header" || a == "--max-time") {
        take(i, a);
      } else if (a == "--fail" || a == "--fail-with-body") {
        cmd.fails_on_error = true;
      } else if (a == "--get") {
        get = true;
      } else if (a != "--silent" && a != "--show-error" && a != "--include") {
        throw std::runtime_error("curl option " + a + " is not understood by the checker" + where());
      }
    } else if (a.size() > 1 && a[0] == '-') {
      for (size_t k = 1; k < a.size(); ++k) {
        char o = a[k];
        if (std::string("XdTHowDm").find(o) != std::string::npos) {
          std::string value = k + 1 < a.size() ? a.substr(k + 1) : take(i, std::string("-") + o);
          if (o == 'X') method = value;
          if (o == 'd') set_body(value);
          if (o == 'T') cmd.uploads_file = true;
          if (o == 'H') add_header(value);
          break;
        }
        if (o == 'f') {
          cmd.fails_on_error = true;
        } else if (o == 'G') {
          get = true;
        } else if (std::string("sSi").find(o) == std::string::npos) {
          throw std::runtime_error(std::string("curl option -") + o + " is not understood by the checker" +
                                   where());
        }
      }
    } else {
      if (!cmd.url.empty()) throw std::runtime_error("two URLs in one curl" + where());
      cmd.url = a;
    }
  }
  if (method) {
    cmd.method = *method;
  } else if (cmd.uploads_file) {
    cmd.method = "PUT";
  } else if (cmd.body && !get) {
    cmd.method = "POST";
  } else {
    cmd.method = "GET";
  }
  const std::string base = "$SPARKLE_URL";
  if (!cmd.url.starts_with(base)) throw std::runtime_error("the URL must start with $SPARKLE_URL" + where());
  auto rest = cmd.url.substr(base.size());
  auto q = rest.find('?');
  cmd.path = rest.substr(0, q);
  if (q != std::string::npos) {
    std::istringstream query(rest.substr(q + 1));
    std::string pair;
    while (std::getline(query, pair, '&')) cmd.query_names.push_back(pair.substr(0, pair.find('=')));
  }
  return cmd;
}

}  // namespace detail

// Every curl command of the blocks, with the here-document that feeds it, if any.
inline std::vector<CurlCommand> curl_commands(const std::vector<ShBlock>& blocks) {
  std::vector<CurlCommand> out;
  for (const auto& block : blocks) {
    std::vector<std::string> lines;
    std::istringstream in(block.text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    for (size_t i = 0; i < lines.size(); ++i) {
      int first_line = block.line + 1 + static_cast<int>(i);
      std::string logical = lines[i];
      while (logical.ends_with("\\") && i + 1 < lines.size()) {
        logical.pop_back();
        logical += lines[++i];
      }
      auto tokens = shell_tokens(logical);
      // A here-document: `<<WORD`; its lines follow the logical line.
      std::optional<std::string> heredoc;
      for (size_t t = 0; t + 2 < tokens.size(); ++t) {
        if (tokens[t].op && tokens[t].text == "<" && tokens[t + 1].op && tokens[t + 1].text == "<" &&
            !tokens[t + 2].op) {
          std::string delimiter = tokens[t + 2].text;
          heredoc = "";
          while (++i < lines.size() && lines[i] != delimiter) *heredoc += lines[i] + "\n";
          if (i >= lines.size()) throw std::runtime_error("unterminated here-document " + delimiter);
          break;
        }
      }
      for (size_t t = 0; t < tokens.size(); ++t) {
        bool command_start = t == 0 || tokens[t - 1].op;
        if (tokens[t].op || tokens[t].text != "curl" || !command_start) continue;
        std::vector<std::string> args;
        for (size_t a = t + 1; a < tokens.size() && !tokens[a].op; ++a) args.push_back(tokens[a].text);
        out.push_back(detail::parse_curl(args, first_line, logical, heredoc));
      }
    }
  }
  return out;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace harmony::test::docs
