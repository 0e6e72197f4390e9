#include <gtest/gtest.h>
#include <sodium.h>

#include <set>
#include <string>

#include "common/crypto/constant_time.hpp"
#include "common/crypto/password_hash.hpp"
#include "common/crypto/random_token.hpp"
#include "common/crypto/sha256.hpp"

namespace harmony::crypto {
namespace {

TEST(PasswordHash, RoundTripVerifies) {
  const auto hash = hash_password("correct horse battery staple");
  EXPECT_TRUE(verify_password(hash, "correct horse battery staple"));
}

TEST(PasswordHash, WrongPasswordFails) {
  const auto hash = hash_password("correct horse battery staple");
  EXPECT_FALSE(verify_password(hash, "correct horse battery stapler"));
  EXPECT_FALSE(verify_password(hash, ""));
}

TEST(PasswordHash, UsesArgon2idWithOwaspParameters) {
  const auto hash = hash_password("pw");
  EXPECT_TRUE(hash.starts_with("$argon2id$")) << hash;
  EXPECT_NE(hash.find("m=19456,t=2"), std::string::npos) << hash;
}

TEST(PasswordHash, SaltMakesEveryHashDifferent) {
  EXPECT_NE(hash_password("same"), hash_password("same"));
}

TEST(PasswordHash, PasswordsWithNulBytesAreHashedWhole) {
  const std::string with_nul("ab\0cd", 5);
  const auto hash = hash_password(with_nul);
  EXPECT_TRUE(verify_password(hash, with_nul));
  EXPECT_FALSE(verify_password(hash, "ab"));
}

TEST(PasswordHash, MalformedHashNeverVerifies) {
  EXPECT_FALSE(verify_password("", "pw"));
  EXPECT_FALSE(verify_password("$argon2id$garbage", "pw"));
  EXPECT_FALSE(verify_password(std::string(1000, 'x'), "pw"));
}

TEST(PasswordHash, FreshHashNeedsNoRehash) {
  EXPECT_FALSE(password_needs_rehash(hash_password("pw")));
}

TEST(PasswordHash, WeakerParametersNeedRehash) {
  char weak[crypto_pwhash_STRBYTES];
  ASSERT_EQ(crypto_pwhash_str_alg(weak, "pw", 2, 1, 8 * 1024 * 1024, crypto_pwhash_ALG_ARGON2ID13), 0);
  EXPECT_TRUE(verify_password(weak, "pw"));
  EXPECT_TRUE(password_needs_rehash(weak));
}

TEST(PasswordHash, OtherAlgorithmNeedsRehashEvenWithStrongerParameters) {
  // argon2i needs at least 3 passes; libsodium alone would judge it by argon2i's own standard.
  char argon2i[crypto_pwhash_STRBYTES];
  ASSERT_EQ(crypto_pwhash_str_alg(argon2i, "pw", 2, kPasswordOpsLimit + 1, kPasswordMemLimit,
                                  crypto_pwhash_ALG_ARGON2I13),
            0);
  EXPECT_TRUE(verify_password(argon2i, "pw"));
  EXPECT_TRUE(password_needs_rehash(argon2i));
}

TEST(PasswordHash, GarbageNeedsRehash) {
  EXPECT_TRUE(password_needs_rehash("not a hash"));
}

TEST(RandomToken, HasPrefixAnd43UrlSafeCharacters) {
  const auto token = random_token("hst_");
  ASSERT_TRUE(token.starts_with("hst_"));
  const auto body = token.substr(4);
  EXPECT_EQ(body.size(), 43u);
  EXPECT_EQ(body.size(), kTokenChars);
  EXPECT_EQ(body.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos)
      << body;
}

TEST(RandomToken, EmptyPrefix) {
  EXPECT_EQ(random_token("").size(), 43u);
}

TEST(RandomToken, TokensAreUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(random_token("t_")).second);
}

TEST(RandomToken, DecodesTo32Bytes) {
  const auto body = random_token("");
  unsigned char bin[64];
  size_t bin_len = 0;
  ASSERT_EQ(sodium_base642bin(bin, sizeof bin, body.data(), body.size(), nullptr, &bin_len, nullptr,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING),
            0);
  EXPECT_EQ(bin_len, 32u);
}

TEST(RandomHex, LengthAndAlphabet) {
  const auto hex = random_hex(16);
  EXPECT_EQ(hex.size(), 32u);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
  EXPECT_NE(random_hex(16), random_hex(16));
  EXPECT_EQ(random_hex(0), "");
}

TEST(Sha256, KnownVectors) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, StreamingEqualsOneShotForAnyChunking) {
  std::string data;
  for (int i = 0; i < 10000; ++i) data.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  const auto expected = sha256_hex(data);
  for (std::size_t chunk : {1u, 3u, 63u, 64u, 65u, 1000u, 4096u, 10000u, 20000u}) {
    Sha256 sha;
    for (std::size_t pos = 0; pos < data.size(); pos += chunk) {
      const auto piece = std::string_view(data).substr(pos, chunk);
      if (chunk % 2 == 0) {
        sha.update(piece);
      } else {
        sha.update(piece.data(), piece.size());
      }
    }
    EXPECT_EQ(sha.final_hex(), expected) << "chunk size " << chunk;
  }
}

TEST(Sha256, SpentObjectRefusesReuse) {
  Sha256 sha;
  sha.update("abc");
  EXPECT_EQ(sha.final_hex(), sha256_hex("abc"));
  EXPECT_THROW(sha.final_hex(), std::logic_error);
  EXPECT_THROW(sha.update("x"), std::logic_error);
}

TEST(ConstantTime, Compares) {
  EXPECT_TRUE(equal_constant_time("secret", "secret"));
  EXPECT_FALSE(equal_constant_time("secret", "secreT"));
  EXPECT_FALSE(equal_constant_time("secret", "secret2"));
  EXPECT_FALSE(equal_constant_time("", "a"));
  EXPECT_TRUE(equal_constant_time("", ""));
  EXPECT_TRUE(equal_constant_time(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(equal_constant_time(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

}  // namespace
}  // namespace harmony::crypto
