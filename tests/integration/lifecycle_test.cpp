#include <gtest/gtest.h>

#include <thread>

#include "common/pg/connection.hpp"
#include "sparkle/cli/commands.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony;
using namespace harmony::test;

// The daemon's life outside requests: schema checks at start, migrations, clean SIGTERM.

TEST(SparkleLifecycle, RefusesAnUnmigratedDatabase) {
  TestDatabase db;
  EXPECT_THROW(SparkleProcess(db.conninfo(), {.migrate = false, .create_admin = false}), std::runtime_error);
}

TEST(SparkleLifecycle, RefusesADatabaseNewerThanItself) {
  TestDatabase db;
  { SparkleProcess first(db.conninfo()); }
  pg::Connection conn(db.conninfo());
  conn.exec("INSERT INTO schema_migrations (version, name) VALUES (999, 'from_the_future')");
  try {
    SparkleProcess second(db.conninfo(), {.migrate = false, .create_admin = false});
    FAIL() << "sparkle served a database with a newer schema";
  } catch (const std::runtime_error&) {
  }
}

TEST(SparkleLifecycle, MigrateTwiceAndCreateAdminTwiceAreHarmless) {
  TestDatabase db;
  SparkleProcess sparkle(db.conninfo());
  EXPECT_EQ(sparkle.run_command("migrate"), 0);
  EXPECT_EQ(sparkle.run_command("create-admin --username admin --password-stdin", "another-password-1\n"),
            sparkle::kExitAlreadyExists);
  HttpClient client(sparkle.port());
  // The first password still works: nothing was overwritten.
  EXPECT_EQ(client.login(SparkleProcess::kAdminUser, sparkle.admin_password()).status, 201);
}

TEST(SparkleLifecycle, SigtermFinishesTheRequestInFlightAndExitsCleanly) {
  TestDatabase db;
  SparkleProcess sparkle(db.conninfo());
  HttpClient idle(sparkle.port());
  ASSERT_EQ(idle.get("/healthz").status, 200);  // an idle keep-alive connection stays open
  HttpClient client(sparkle.port());
  ASSERT_EQ(client.get("/healthz").status, 200);
  // A login spends tens of milliseconds in argon2id: SIGTERM most likely arrives while it runs.
  // It must then complete; if it arrived just after the connection was closed, the client sees
  // the connection refused — never a 5xx.
  HttpResult login;
  std::thread request([&] {
    try {
      login = client.login(SparkleProcess::kAdminUser, sparkle.admin_password());
    } catch (const std::exception&) {
      login.status = 0;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // 0: exited by itself after SIGTERM (the helper answers -1 when it had to SIGKILL).
  EXPECT_EQ(sparkle.stop(), 0);
  request.join();
  EXPECT_TRUE(login.status == 201 || login.status == 0) << login.status << " " << login.body;
}
