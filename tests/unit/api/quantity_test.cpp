#include "api/quantity.h"

#include <gtest/gtest.h>

using skiff::api::Quantity;

namespace {
Quantity q(const char* s) {
  auto r = Quantity::parse(s);
  EXPECT_TRUE(r.has_value()) << s;
  return r.value_or(Quantity{});
}
}  // namespace

TEST(Quantity, ParsesMilliCpu) { EXPECT_EQ(q("100m").milliValue(), 100); }

TEST(Quantity, ParsesBinarySuffix) { EXPECT_EQ(q("64Mi").value(), 64LL * 1024 * 1024); }

TEST(Quantity, ParsesDecimalSuffix) { EXPECT_EQ(q("2k").value(), 2000); }

TEST(Quantity, ParsesExponent) { EXPECT_EQ(q("1e3").value(), 1000); }

TEST(Quantity, ParsesFractionWithSuffix) { EXPECT_EQ(q("1.5Gi").value(), 1610612736LL); }

TEST(Quantity, ParsesLeadingDotAndSign) {
  EXPECT_EQ(q(".5").milliValue(), 500);
  EXPECT_EQ(q("-1").value(), -1);
  EXPECT_EQ(q("+3").value(), 3);
}

TEST(Quantity, ValueRoundsUp) { EXPECT_EQ(q("100m").value(), 1); }

TEST(Quantity, RejectsMalformed) {
  for (const char* s : {"", "abc", "1Ki2", "1.2.3", "1x", "Mi", ".", "1 Gi", "1e"})
    EXPECT_FALSE(Quantity::parse(s).has_value()) << s;
}

TEST(Quantity, CanonicalStrings) {
  EXPECT_EQ(q("100m").toString(), "100m");
  EXPECT_EQ(q("0.5").toString(), "500m");
  EXPECT_EQ(q("1000m").toString(), "1");
  EXPECT_EQ(q("2000").toString(), "2k");
  EXPECT_EQ(q("1.5Gi").toString(), "1536Mi");
  EXPECT_EQ(q("512Ki").toString(), "512Ki");
  EXPECT_EQ(q("1e3").toString(), "1e3");
  EXPECT_EQ(q("0").toString(), "0");
}

TEST(Quantity, ComparesAcrossFormats) {
  EXPECT_TRUE(q("1Gi") > q("1G"));
  EXPECT_TRUE(q("500m") < q("1"));
  EXPECT_TRUE(q("1000m") == q("1"));
}

TEST(Quantity, Arithmetic) {
  EXPECT_EQ((q("250m") + q("750m")).value(), 1);
  EXPECT_EQ((q("1") - q("250m")).milliValue(), 750);
  EXPECT_EQ(Quantity::fromMilli(1500).toString(), "1500m");
}
