// docs/api.md is checked two ways: its shell examples run, in order, against a real Sparkle, and
// every curl in it names an operation of docs/openapi.json with documented query parameters and
// headers, and sends a body its request schema accepts.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "e2e/doc_examples.hpp"
#include "e2e/openapi_check.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

extern char** environ;

namespace harmony::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path source_dir() {
  const char* dir = std::getenv("HARMONY_SOURCE_DIR");
  return dir != nullptr && *dir != '\0' ? dir : HARMONY_DEFAULT_SOURCE_DIR;
}

const std::string& guide() {
  static const std::string text = docs::read_file((source_dir() / "docs/api.md").string());
  return text;
}

const json& openapi_document() {
  static const json doc = json::parse(docs::read_file((source_dir() / "docs/openapi.json").string()));
  return doc;
}

const std::vector<docs::CurlCommand>& curls() {
  static const auto commands = docs::curl_commands(docs::sh_blocks(guide()));
  return commands;
}

std::string where(const docs::CurlCommand& cmd) {
  return "docs/api.md:" + std::to_string(cmd.line) + ": " + cmd.method + " " + cmd.path;
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// All ```sh blocks as one script, each announced in the output so a failure shows where it was.
std::string examples_script() {
  std::string script;
  for (const auto& block : docs::sh_blocks(guide())) {
    script += "printf '\\n### docs/api.md:" + std::to_string(block.line) + "\\n'\n" + block.text;
  }
  return script;
}

struct ScriptRun {
  int exit_code = -1;
  std::string output;
};

// Runs the script with bash -euo pipefail in `dir`, with the guide's variables set.
ScriptRun run_examples(const fs::path& dir, const std::map<std::string, std::string>& variables) {
  fs::create_directories(dir);
  { std::ofstream(dir / "examples.sh") << examples_script(); }
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    if (!variables.count(entry.substr(0, entry.find('=')))) env_storage.push_back(entry);
  }
  for (const auto& [name, value] : variables) env_storage.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);
  const auto output_path = dir / "output.txt";

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    int out = open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0) _exit(126);
    dup2(out, 1);
    dup2(out, 2);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    const char* argv[] = {"timeout", "300", "bash", "-euo", "pipefail", "examples.sh", nullptr};
    execvpe("timeout", const_cast<char**>(argv), envp.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ScriptRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.output = docs::read_file(output_path.string());
  return run;
}

// The body as the server would see it, with each shell variable replaced by a value of the
// kind the guide gives it: a UUID inside a JSON string, a number outside one.
std::string body_with_placeholders(const std::string& body) {
  std::string out;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c == '\\' && in_string && i + 1 < body.size()) {
      out += c;
      out += body[++i];
      continue;
    }
    if (c == '"') in_string = !in_string;
    bool variable =
        c == '$' && i + 1 < body.size() &&
        (std::isalpha(static_cast<unsigned char>(body[i + 1])) || body[i + 1] == '_' || body[i + 1] == '{');
    if (!variable) {
      out += c;
      continue;
    }
    size_t end = i + 1;
    if (body[end] == '{') {
      end = body.find('}', end);
      if (end == std::string::npos) throw std::runtime_error("unclosed ${ in a body: " + body);
      ++end;
    } else {
      while (end < body.size() && (std::isalnum(static_cast<unsigned char>(body[end])) || body[end] == '_'))
        ++end;
    }
    out += in_string ? "00000000-0000-4000-8000-000000000000" : "1";
    i = end - 1;
  }
  return out;
}

TEST(ApiDocs, ExamplesRunAgainstARealSparkleAndCleanUpAfterThemselves) {
  ASSERT_GE(docs::sh_blocks(guide()).size(), 20u) << "the guide's ```sh blocks were not found";
  TestDatabase db;
  SparkleProcess sparkle(db.conninfo(),
                         SparkleOptions{.extra_config = "[auth]\nlogin_attempts_per_minute = 10000\n"});
  std::map<std::string, std::string> variables = {
      {"SPARKLE_URL", "http://127.0.0.1:" + std::to_string(sparkle.port())},
      {"ADMIN_USER", SparkleProcess::kAdminUser},
      {"ADMIN_PASSWORD", sparkle.admin_password()}};
  auto work = fs::temp_directory_path() / ("harmony-api-docs-" + std::to_string(getpid()));
  fs::remove_all(work);
  // The guide says it can be run again on the same cloud: the second run proves its clean-up.
  for (const char* run_name : {"first", "second"}) {
    auto run = run_examples(work / run_name, variables);
    ASSERT_EQ(run.exit_code, 0) << "the " << run_name << " run of the docs/api.md examples failed; output:\n"
                                << run.output << "\n(sparkle log: " << sparkle.log_path().string() << ")";
  }
  fs::remove_all(work);
}

TEST(ApiDocs, EveryCurlIsADocumentedOperation) {
  const auto& doc = openapi_document();
  const std::set<std::string> everywhere = {"authorization", "content-type", "accept", "x-request-id"};
  ASSERT_FALSE(curls().empty());
  for (const auto& cmd : curls()) {
    auto templ = openapi::match_path(doc, cmd.path);
    if (!templ) {
      ADD_FAILURE() << where(cmd) << ": no such path in docs/openapi.json";
      continue;
    }
    auto method = lower(cmd.method);
    if (!doc.at("paths").at(*templ).contains(method)) {
      ADD_FAILURE() << where(cmd) << ": " << cmd.method << " is not an operation of " << *templ;
      continue;
    }
    const auto& operation = doc.at("paths").at(*templ).at(method);
    auto params = openapi::parameters(doc, *templ, method);
    auto documented = [&](const std::string& name, const std::string& in) {
      for (const auto& p : params) {
        if (p.at("in") == in && lower(p.at("name").get<std::string>()) == lower(name)) return true;
      }
      return false;
    };
    for (const auto& name : cmd.query_names) {
      EXPECT_TRUE(documented(name, "query"))
          << where(cmd) << ": query parameter " << name << " is undocumented";
    }
    for (const auto& [name, value] : cmd.headers) {
      if (everywhere.count(name)) continue;
      EXPECT_TRUE(documented(name, "header")) << where(cmd) << ": header " << name << " is undocumented";
    }
    bool needs_token = !(operation.contains("security") && operation.at("security").empty());
    if (cmd.fails_on_error) {
      EXPECT_EQ(cmd.headers.count("authorization") > 0, needs_token)
          << where(cmd) << (needs_token ? ": needs a token" : ": takes no token");
    }
    if (cmd.body || cmd.uploads_file) {
      EXPECT_TRUE(operation.contains("requestBody"))
          << where(cmd) << ": sends a body the operation does not take";
    }
  }
}

TEST(ApiDocs, RequestBodiesMatchTheirSchemas) {
  const auto& doc = openapi_document();
  int checked = 0;
  for (const auto& cmd : curls()) {
    // Examples of errors (no -f) send wrong bodies on purpose.
    if (!cmd.body || !cmd.fails_on_error) continue;
    auto templ = openapi::match_path(doc, cmd.path);
    ASSERT_TRUE(templ) << where(cmd);
    const auto& operation = doc.at("paths").at(*templ).at(lower(cmd.method));
    EXPECT_EQ(cmd.headers.count("content-type") ? cmd.headers.at("content-type") : "", "application/json")
        << where(cmd) << ": a JSON body needs Content-Type: application/json";
    const auto& body_spec = openapi::resolve(doc, operation.at("requestBody"));
    ASSERT_TRUE(body_spec.at("content").contains("application/json")) << where(cmd) << ": takes no JSON";
    json body = json::parse(body_with_placeholders(*cmd.body), nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << where(cmd) << ": the body is not JSON:\n" << *cmd.body;
    std::vector<std::string> errors;
    openapi::validate(doc, body_spec.at("content").at("application/json").at("schema"), body, "body", errors);
    for (const auto& error : errors) ADD_FAILURE() << where(cmd) << ": " << error;
    ++checked;
  }
  EXPECT_GE(checked, 10) << "the guide's bodies were not found";
}

// The tasks the guide promises, so that an edit cannot drop one unnoticed.
TEST(ApiDocs, CoversTheCommonTasks) {
  std::set<std::string> used;
  for (const auto& cmd : curls()) {
    if (auto templ = openapi::match_path(openapi_document(), cmd.path))
      used.insert(cmd.method + " " + *templ);
  }
  for (const char* operation : {
           "POST /api/v1/auth/tokens",
           "GET /api/v1/users/me",
           "POST /api/v1/tenants",
           "POST /api/v1/users",
           "PUT /api/v1/tenants/{id}/roles/{user_id}",
           "PUT /api/v1/quotas/{tenant_id}",
           "POST /api/v1/images",
           "PUT /api/v1/images/{id}/file",
           "POST /api/v1/networks",
           "POST /api/v1/subnets",
           "POST /api/v1/instances",
           "POST /api/v1/instances/{id}/stop",
           "POST /api/v1/instances/{id}/start",
           "GET /api/v1/instances",
           "PATCH /api/v1/tenants/{id}",
           "DELETE /api/v1/instances/{id}",
           "DELETE /api/v1/subnets/{id}",
           "DELETE /api/v1/networks/{id}",
           "DELETE /api/v1/images/{id}",
           "DELETE /api/v1/users/{id}",
           "DELETE /api/v1/tenants/{id}",
           "DELETE /api/v1/auth/tokens/current",
           "GET /api/v1/audit-events",
       }) {
    EXPECT_TRUE(used.count(operation)) << "docs/api.md has no example of " << operation;
  }
  bool pages = false;
  for (const auto& cmd : curls()) {
    for (const auto& name : cmd.query_names) pages = pages || name == "cursor";
  }
  EXPECT_TRUE(pages) << "docs/api.md has no example that follows next_cursor";
}

}  // namespace
}  // namespace harmony::test
