#include "sparkle/accounting/timestamp_param.hpp"

#include <gtest/gtest.h>

#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle {
namespace {

TEST(Rfc3339Timestamp, AcceptsTheFormsOfTheRfc) {
  EXPECT_TRUE(is_rfc3339_timestamp("2024-03-01T00:00:00Z"));
  EXPECT_TRUE(is_rfc3339_timestamp("2024-03-01t00:00:00z"));
  EXPECT_TRUE(is_rfc3339_timestamp("2024-03-01T23:59:59.123456789Z"));
  EXPECT_TRUE(is_rfc3339_timestamp("2024-03-01T12:00:00+02:00"));
  EXPECT_TRUE(is_rfc3339_timestamp("2024-03-01T12:00:00.5-23:59"));
  EXPECT_TRUE(is_rfc3339_timestamp("2024-02-29T00:00:00Z"));  // leap year
  EXPECT_TRUE(is_rfc3339_timestamp("2000-02-29T00:00:00Z"));  // divisible by 400
  EXPECT_TRUE(is_rfc3339_timestamp("2016-12-31T23:59:60Z"));  // leap second
}

TEST(Rfc3339Timestamp, RefusesEverythingElse) {
  for (const char* text : {"",
                           "now",
                           "epoch",
                           "yesterday",
                           "2024-03-01",
                           "2024-03-01T00:00:00",
                           "2024-03-01 00:00:00Z",
                           "2024-3-01T00:00:00Z",
                           "2024-03-01T00:00Z",
                           "2024-03-01T00:00:00.Z",
                           "2024-03-01T00:00:00.1234567890Z",
                           "2024-03-01T00:00:00+0200",
                           "2024-03-01T00:00:00+02",
                           "2024-03-01T00:00:00ZZ",
                           "2023-02-29T00:00:00Z",
                           "1900-02-29T00:00:00Z",
                           "2024-13-01T00:00:00Z",
                           "2024-00-01T00:00:00Z",
                           "2024-04-31T00:00:00Z",
                           "2024-03-01T24:00:00Z",
                           "2024-03-01T00:60:00Z",
                           "2024-03-01T00:00:61Z",
                           "0000-01-01T00:00:00Z",
                           "2024-03-01T00:00:00+24:00",
                           "2024-03-01T00:00:00+02:60",
                           "+2024-03-01T00:00:00Z",
                           "2024-03-01T00:00:00Z; DROP TABLE x"}) {
    EXPECT_FALSE(is_rfc3339_timestamp(text)) << text;
  }
}

TEST(Rfc3339Timestamp, QueryParameterErrorsNameTheParameter) {
  Request request;
  request.query["since"] = "2024-03-01T00:00:00Z";
  request.query["until"] = "soon";
  EXPECT_EQ(timestamp_param(request, "since"), "2024-03-01T00:00:00Z");
  EXPECT_EQ(timestamp_param(request, "from"), std::nullopt);
  try {
    timestamp_param(request, "until");
    FAIL() << "no error";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.field, "until");
  }
}

}  // namespace
}  // namespace harmony::sparkle
