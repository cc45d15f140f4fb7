#include "common/base64.h"

#include <gtest/gtest.h>

#include <vector>

namespace skiff {
namespace {

TEST(Base64, RoundTripsAllPaddingLengths) {
  for (std::string s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)})
    EXPECT_EQ(base64Decode(base64Encode(s)), s);
  EXPECT_EQ(base64Encode("s3cret"), "czNjcmV0");
}

TEST(Base64, RejectsMalformedText) {
  EXPECT_FALSE(base64Decode("abc"));
  EXPECT_FALSE(base64Decode("ab!d"));
  EXPECT_FALSE(base64Decode("a=bc"));
}

}  // namespace
}  // namespace skiff
