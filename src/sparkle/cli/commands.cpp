#include "sparkle/cli/commands.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "common/config_file.hpp"
#include "common/crypto/password_hash.hpp"
#include "common/logging.hpp"
#include "common/version.hpp"
#include "sparkle/app/application.hpp"
#include "sparkle/db/migrator.hpp"
#include "sparkle/placement/placement.hpp"
#include "sparkle/placement/placement_config.hpp"

namespace harmony::sparkle {
namespace {

SparkleConfig load_config(const std::string& path) {
  auto file = ConfigFile::load(path);
  auto config = SparkleConfig::from(file);
  // The process's placement engine (one per controller) takes the [placement] section.
  configure_default_placement(placement::config_from(file));
  return config;
}

int create_admin(const SparkleConfig& config, const std::string& username, bool password_stdin) {
  std::string password;
  if (password_stdin) {
    std::getline(std::cin, password);
  } else {
    std::cerr << "password: ";
    std::getline(std::cin, password);
  }
  if (password.size() < 12) {
    std::cerr << "the password must have at least 12 characters\n";
    return kExitUsage;
  }
  pg::Pool db(config.database);
  Migrator(db, embedded_migrations()).require_current();
  auto hash = crypto::hash_password(password);
  auto conn = db.acquire();
  auto created = conn->query(
      "INSERT INTO users (username, password_hash, is_system_admin) VALUES ($1, $2, true)"
      " ON CONFLICT DO NOTHING RETURNING id",
      username, hash);
  if (created.empty()) {
    std::cerr << "user " << username << " already exists; nothing changed\n";
    return kExitAlreadyExists;
  }
  spdlog::info("created system administrator {} ({})", username, created.text(0, 0));
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{
      "sparkle: the Harmony cloud controller. Keeps the desired and current state of hosts, networks, "
      "storage, "
      "volumes, instances, images, users and tenants in PostgreSQL and serves the REST API."};
  app.set_version_flag("--version", std::string("sparkle ") + kVersion);
  std::string config_path = "/etc/sparkle/sparkle.conf";
  app.add_option("-c,--config", config_path, "configuration file (TOML)")->capture_default_str();
  app.require_subcommand(0, 1);

  auto* serve = app.add_subcommand("serve", "serve the REST API (the default)");
  auto* migrate = app.add_subcommand("migrate", "apply database migrations (safe to run twice)");
  auto* schema =
      app.add_subcommand("schema-version", "print the database's and this binary's schema versions");
  auto* admin = app.add_subcommand("create-admin", "create the first system administrator");
  std::string username;
  bool password_stdin = false;
  admin->add_option("--username", username, "user name")->required();
  admin->add_flag("--password-stdin", password_stdin,
                  "read the password from the first line of standard input");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    auto config = load_config(config_path);
    init_logging("sparkle", config.log_level, config.log_file);
    if (*migrate) {
      pg::Pool db(config.database);
      Migrator migrator(db, embedded_migrations());
      auto applied = migrator.migrate();
      for (int version : applied) spdlog::info("applied migration {}", version);
      std::cout << "schema at version " << migrator.database_version() << " (" << applied.size()
                << " migrations applied)\n";
      return 0;
    }
    if (*schema) {
      pg::Pool db(config.database);
      Migrator migrator(db, embedded_migrations());
      std::cout << "database " << migrator.database_version() << " expected " << migrator.expected_version()
                << "\n";
      return 0;
    }
    if (*admin) return create_admin(config, username, password_stdin);
    (void)serve;
    Application application(std::move(config));
    return application.run();
  } catch (const SchemaMismatch& e) {
    spdlog::critical("{}", e.what());
    std::cerr << "sparkle: " << e.what() << "\n";
    return kExitSchemaMismatch;
  } catch (const std::exception& e) {
    std::cerr << "sparkle: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace harmony::sparkle
