#include "sparkle/images/image_store.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "common/crypto/sha256.hpp"
#include "sparkle/images/image_format.hpp"

namespace harmony::sparkle {
namespace {

namespace fs = std::filesystem;

constexpr const char* kId = "0b6f3a52-8c1e-4f7a-9d2b-5e4c3a2b1f00";

void put_be(std::string& buf, std::size_t offset, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) buf[offset + i] = static_cast<char>(value >> (8 * (width - 1 - i)));
}

// A header as `qemu-img create -f qcow2` writes it (docs/interop/qcow2.txt), padded to a cluster.
std::string qcow2_header(std::uint32_t version = 3, std::uint64_t backing_offset = 0,
                         std::uint64_t incompatible_features = 0) {
  std::string h(4096, '\0');
  h.replace(0, 4, "QFI\xfb", 4);
  put_be(h, 4, version, 4);
  put_be(h, 8, backing_offset, 8);
  put_be(h, 16, backing_offset ? 10 : 0, 4);  // backing_file_size
  put_be(h, 20, 16, 4);                       // cluster_bits: 64 KiB
  put_be(h, 24, 1ull << 30, 8);               // virtual size 1 GiB
  put_be(h, 36, 2, 4);                        // l1_size
  put_be(h, 40, 0x30000, 8);                  // l1_table_offset
  put_be(h, 48, 0x10000, 8);                  // refcount_table_offset
  put_be(h, 56, 1, 4);                        // refcount_table_clusters
  if (version == 3) {
    put_be(h, 72, incompatible_features, 8);
    put_be(h, 96, 4, 4);     // refcount_order
    put_be(h, 100, 104, 4);  // header_length
  }
  if (backing_offset) h.replace(backing_offset, 10, "/etc/shado");
  return h;
}

// Deterministic pseudo-random content, generated chunk by chunk so no test holds a whole image.
class ContentGenerator {
 public:
  explicit ContentGenerator(std::uint64_t seed) : rng_(seed) {}
  std::string next(std::size_t size) {
    std::string chunk(size, '\0');
    for (auto& c : chunk) c = static_cast<char>(rng_());
    return chunk;
  }

 private:
  std::mt19937 rng_;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

long resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  }
  return -1;
}

// ---- format detection -------------------------------------------------------------------------

TEST(ImageFormat, Qcow2Version3) {
  const auto d = detect_image_format(qcow2_header(3));
  ASSERT_TRUE(d.accepted()) << d.refusal;
  EXPECT_EQ(*d.format, ImageFormat::qcow2);
  EXPECT_TRUE(d.refusal.empty());
}

TEST(ImageFormat, Qcow2Version2) {
  const auto d = detect_image_format(qcow2_header(2));
  ASSERT_TRUE(d.accepted()) << d.refusal;
  EXPECT_EQ(*d.format, ImageFormat::qcow2);
}

TEST(ImageFormat, Qcow2WithBackingFileIsRefused) {
  const auto d = detect_image_format(qcow2_header(3, 0x200));
  EXPECT_FALSE(d.accepted());
  EXPECT_EQ(d.refusal, "qcow2 images with a backing file are not accepted");
  EXPECT_FALSE(detect_image_format(qcow2_header(2, 0x200)).accepted());
}

TEST(ImageFormat, Qcow2WithExternalDataFileIsRefused) {
  const auto d = detect_image_format(qcow2_header(3, 0, 1u << 2));
  EXPECT_FALSE(d.accepted());
  EXPECT_NE(d.refusal.find("external data file"), std::string::npos) << d.refusal;
  // The dirty bit is harmless.
  EXPECT_TRUE(detect_image_format(qcow2_header(3, 0, 1u << 0)).accepted());
}

TEST(ImageFormat, OtherQcowVersionsAreRefused) {
  EXPECT_FALSE(detect_image_format(qcow2_header(1)).accepted());
  EXPECT_FALSE(detect_image_format(qcow2_header(4)).accepted());
}

TEST(ImageFormat, TruncatedQcow2IsRefused) {
  EXPECT_FALSE(detect_image_format(qcow2_header(3).substr(0, 12)).accepted());
  EXPECT_FALSE(detect_image_format(qcow2_header(3).substr(0, 40)).accepted());
  EXPECT_TRUE(detect_image_format(qcow2_header(2).substr(0, 72)).accepted());
}

TEST(ImageFormat, VmdkIsRefused) {
  std::string sparse(512, '\0');
  sparse.replace(0, 4, "KDMV");
  auto d = detect_image_format(sparse);
  EXPECT_FALSE(d.accepted());
  EXPECT_NE(d.refusal.find("VMDK"), std::string::npos) << d.refusal;
  EXPECT_FALSE(detect_image_format("# Disk DescriptorFile\nversion=1\n").accepted());
}

TEST(ImageFormat, OtherForeignFormatsAreRefused) {
  EXPECT_FALSE(detect_image_format(std::string("vhdxfile") + std::string(100, '\0')).accepted());
  EXPECT_FALSE(detect_image_format(std::string("conectix") + std::string(100, '\0')).accepted());
  EXPECT_FALSE(detect_image_format(std::string("QED\0", 4) + std::string(100, '\0')).accepted());

  std::string vdi(512, '\0');
  const std::string banner = "<<< Oracle VM VirtualBox Disk Image >>>\n";
  vdi.replace(0, banner.size(), banner);
  vdi.replace(0x40, 4, "\x7f\x10\xda\xbe", 4);  // 0xbeda107f little-endian
  const auto d = detect_image_format(vdi);
  EXPECT_FALSE(d.accepted());
  EXPECT_NE(d.refusal.find("VDI"), std::string::npos) << d.refusal;
}

TEST(ImageFormat, EverythingElseIsRaw) {
  EXPECT_EQ(detect_image_format(std::string(4096, '\0')).format, ImageFormat::raw);
  EXPECT_EQ(detect_image_format("").format, ImageFormat::raw);
  EXPECT_EQ(detect_image_format("QFI").format, ImageFormat::raw);  // too short to be qcow2 at all
  std::string mbr(512, '\0');
  mbr[510] = '\x55';
  mbr[511] = '\xaa';
  EXPECT_EQ(detect_image_format(mbr).format, ImageFormat::raw);
  // "<<< " without the VDI signature is just data.
  EXPECT_EQ(detect_image_format(std::string("<<< ") + std::string(200, 'x')).format, ImageFormat::raw);
}

TEST(ImageFormat, Names) {
  EXPECT_EQ(to_string(ImageFormat::qcow2), "qcow2");
  EXPECT_EQ(to_string(ImageFormat::raw), "raw");
  EXPECT_EQ(parse_image_format("qcow2"), ImageFormat::qcow2);
  EXPECT_EQ(parse_image_format("raw"), ImageFormat::raw);
  EXPECT_EQ(parse_image_format("vmdk"), std::nullopt);
  EXPECT_EQ(parse_image_format("QCOW2"), std::nullopt);
}

// Cross-checks the crafted headers above against what QEMU really writes, where qemu-img exists.
TEST(ImageFormat, RealImagesFromQemuImg) {
  if (std::system("qemu-img --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "qemu-img not installed";
  const auto dir = fs::temp_directory_path() / ("harmony-qemu-img-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto head_of = [&](const std::string& name, const std::string& options) {
    const auto path = dir / name;
    const auto command = "qemu-img create -q " + options + " '" + path.string() + "' 64M";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    std::ifstream in(path, std::ios::binary);
    std::string head(kImageDetectionBytes, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(in.gcount()));
    return detect_image_format(head);
  };

  EXPECT_EQ(head_of("v3.qcow2", "-f qcow2").format, ImageFormat::qcow2);
  EXPECT_EQ(head_of("v2.qcow2", "-f qcow2 -o compat=0.10").format, ImageFormat::qcow2);
  EXPECT_EQ(head_of("backed.qcow2", "-f qcow2 -b /etc/passwd -F raw").refusal,
            "qcow2 images with a backing file are not accepted");
  EXPECT_NE(head_of("datafile.qcow2", "-f qcow2 -o data_file=" + (dir / "data.raw").string())
                .refusal.find("external data file"),
            std::string::npos);
  EXPECT_FALSE(head_of("sparse.vmdk", "-f vmdk").accepted());
  EXPECT_FALSE(head_of("flat.vmdk", "-f vmdk -o subformat=monolithicFlat").accepted());
  EXPECT_FALSE(head_of("d.vhdx", "-f vhdx").accepted());
  EXPECT_FALSE(head_of("d.vhd", "-f vpc").accepted());
  EXPECT_FALSE(head_of("d.vdi", "-f vdi").accepted());
  EXPECT_FALSE(head_of("d.qed", "-f qed").accepted());
  EXPECT_EQ(head_of("d.raw", "-f raw").format, ImageFormat::raw);
  fs::remove_all(dir);
}

// ---- store ------------------------------------------------------------------------------------

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("harmony-image-store-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    store_ = std::make_unique<ImageStore>(root_ / "images");
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(root_);
  }
  fs::path part_of(const std::string& id) const { return store_->dir() / (id + ".part"); }
  std::size_t files_in_store() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(store_->dir()), {}));
  }

  fs::path root_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(ImageStoreTest, CreatesPrivateDirectory) {
  ASSERT_TRUE(fs::is_directory(root_ / "images"));
  const auto perms = fs::status(root_ / "images").permissions();
  EXPECT_EQ(perms & (fs::perms::others_all | fs::perms::group_write), fs::perms::none);
  // Opening an existing store is fine.
  EXPECT_NO_THROW(ImageStore{root_ / "images"});
}

TEST_F(ImageStoreTest, ChunkedUploadMatchesOneShotHash) {
  ContentGenerator gen(42);
  const std::string content = gen.next(300'000);
  const auto expected = crypto::sha256_hex(content);
  int n = 0;
  for (std::size_t chunk : {1u, 7u, 511u, 4095u, 4096u, 4097u, 65536u, 300'000u, 1'000'000u}) {
    const std::string id = "00000000-0000-0000-0000-" + std::to_string(100000000000 + n++);
    auto upload = store_->begin_upload(id);
    for (std::size_t pos = 0; pos < content.size(); pos += chunk) {
      upload->write(std::string_view(content).substr(pos, chunk));
    }
    upload->write("");  // empty chunks are harmless
    EXPECT_EQ(upload->size(), content.size());
    const auto result = upload->finish();
    EXPECT_TRUE(result.stored);
    EXPECT_EQ(result.size, content.size()) << "chunk " << chunk;
    EXPECT_EQ(result.sha256, expected) << "chunk " << chunk;
    EXPECT_EQ(result.format.format, ImageFormat::raw);
    EXPECT_TRUE(store_->exists(id));
    EXPECT_FALSE(fs::exists(part_of(id)));
    EXPECT_EQ(store_->sha256_of_file(id), expected);
    EXPECT_EQ(read_file(store_->path_of(id)), content);
  }
}

TEST_F(ImageStoreTest, PartFileIsPrivateAndFinalAppearsOnlyAtFinish) {
  auto upload = store_->begin_upload(kId);
  upload->write("data");
  ASSERT_TRUE(fs::exists(part_of(kId)));
  EXPECT_FALSE(store_->exists(kId));
  const auto perms = fs::status(part_of(kId)).permissions();
  EXPECT_EQ(perms & (fs::perms::others_all | fs::perms::group_write | fs::perms::owner_exec),
            fs::perms::none);
  upload->finish();
  EXPECT_TRUE(store_->exists(kId));
  EXPECT_EQ(store_->path_of(kId), store_->dir() / kId);
}

TEST_F(ImageStoreTest, DetectsQcow2AcrossChunkBoundaries) {
  const auto header = qcow2_header(3);
  auto upload = store_->begin_upload(kId);
  for (std::size_t pos = 0; pos < header.size(); pos += 5)
    upload->write(std::string_view(header).substr(pos, 5));
  upload->write(std::string(100'000, '\0'));
  const auto result = upload->finish();
  ASSERT_TRUE(result.format.accepted()) << result.format.refusal;
  EXPECT_EQ(result.format.format, ImageFormat::qcow2);
  EXPECT_TRUE(result.stored);
}

TEST_F(ImageStoreTest, RefusedContentIsNotStored) {
  auto upload = store_->begin_upload(kId);
  upload->write(qcow2_header(3, 0x200));
  const auto result = upload->finish();
  EXPECT_FALSE(result.stored);
  EXPECT_FALSE(result.format.accepted());
  EXPECT_EQ(result.format.refusal, "qcow2 images with a backing file are not accepted");
  EXPECT_EQ(result.size, 4096u);
  EXPECT_FALSE(store_->exists(kId));
  EXPECT_EQ(files_in_store(), 0u);
}

TEST_F(ImageStoreTest, AbortedUploadLeavesNothing) {
  {
    auto upload = store_->begin_upload(kId);
    upload->write(std::string(10'000, 'x'));
    ASSERT_TRUE(fs::exists(part_of(kId)));
  }
  EXPECT_FALSE(fs::exists(part_of(kId)));
  EXPECT_FALSE(store_->exists(kId));
  EXPECT_EQ(files_in_store(), 0u);
  // The id is free again.
  auto retry = store_->begin_upload(kId);
  retry->write("ok");
  EXPECT_TRUE(retry->finish().stored);
}

TEST_F(ImageStoreTest, AbortKeepsOtherImages) {
  auto first = store_->begin_upload("aaaa");
  first->write("first");
  first->finish();
  { store_->begin_upload("bbbb")->write("second"); }
  EXPECT_TRUE(store_->exists("aaaa"));
  EXPECT_FALSE(store_->exists("bbbb"));
  EXPECT_EQ(read_file(store_->path_of("aaaa")), "first");
}

TEST_F(ImageStoreTest, ConcurrentUploadOfSameIdIsRefused) {
  auto upload = store_->begin_upload(kId);
  try {
    store_->begin_upload(kId);
    FAIL() << "second upload of the same id was allowed";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::file_exists);
  }
}

TEST_F(ImageStoreTest, StoredImageIsNeverReplaced) {
  auto upload = store_->begin_upload(kId);
  upload->write("original");
  upload->finish();
  EXPECT_THROW(store_->begin_upload(kId), std::system_error);
  EXPECT_EQ(read_file(store_->path_of(kId)), "original");
}

TEST_F(ImageStoreTest, FinishTwiceIsAnError) {
  auto upload = store_->begin_upload(kId);
  upload->write("x");
  upload->finish();
  EXPECT_THROW(upload->finish(), std::logic_error);
  EXPECT_THROW(upload->write("y"), std::logic_error);
  upload.reset();
  EXPECT_TRUE(store_->exists(kId));  // destroying a finished upload keeps the image
}

TEST_F(ImageStoreTest, RemoveDeletesAndIsIdempotent) {
  auto upload = store_->begin_upload(kId);
  upload->write("x");
  upload->finish();
  store_->remove(kId);
  EXPECT_FALSE(store_->exists(kId));
  EXPECT_NO_THROW(store_->remove(kId));
  EXPECT_THROW(store_->sha256_of_file(kId), std::system_error);
}

TEST_F(ImageStoreTest, IdsThatCouldEscapeTheDirectoryAreRefused) {
  const std::vector<std::string> bad_ids = {"../etc/passwd",
                                            "..",
                                            ".",
                                            "a/b",
                                            "/abs",
                                            "",
                                            "ABCDEF",
                                            "abc.part",
                                            "abc\n",
                                            std::string(65, 'a'),
                                            std::string("ab\0cd", 5)};
  for (const auto& bad : bad_ids) {
    EXPECT_THROW(store_->begin_upload(bad), std::invalid_argument) << bad;
    EXPECT_THROW(store_->path_of(bad), std::invalid_argument) << bad;
    EXPECT_THROW(store_->exists(bad), std::invalid_argument) << bad;
    EXPECT_THROW(store_->remove(bad), std::invalid_argument) << bad;
    EXPECT_THROW(store_->sha256_of_file(bad), std::invalid_argument) << bad;
    EXPECT_FALSE(is_valid_image_id(bad)) << bad;
  }
  EXPECT_EQ(files_in_store(), 0u);
  EXPECT_TRUE(is_valid_image_id(kId));
}

TEST_F(ImageStoreTest, RemovePartialUploadsCleansCrashLeftovers) {
  std::ofstream(store_->dir() / "abcd.part") << "left by a crash";
  std::ofstream(store_->dir() / "notes.txt") << "not ours";
  auto upload = store_->begin_upload("1234");
  upload->write("kept");
  upload->finish();
  EXPECT_EQ(store_->remove_partial_uploads(), 1u);
  EXPECT_FALSE(fs::exists(store_->dir() / "abcd.part"));
  EXPECT_TRUE(fs::exists(store_->dir() / "notes.txt"));
  EXPECT_TRUE(store_->exists("1234"));
}

TEST_F(ImageStoreTest, WriteErrorIsReportedWithImageIdAndCleanedUp) {
  // RLIMIT_FSIZE makes write() fail with EFBIG: a real I/O error without filling a disk.
  struct rlimit old_limit {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old_limit;
  small.rlim_cur = 1 << 20;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);

  auto upload = store_->begin_upload(kId);
  std::string message;
  std::error_code code;
  try {
    for (int i = 0; i < 4; ++i) upload->write(std::string(512 * 1024, 'z'));
  } catch (const std::system_error& e) {
    message = e.what();
    code = e.code();
  }
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);

  EXPECT_EQ(code, std::errc::file_too_large);
  EXPECT_NE(message.find(kId), std::string::npos) << message;
  EXPECT_THROW(upload->finish(), std::logic_error);
  upload.reset();
  EXPECT_EQ(files_in_store(), 0u);
}

TEST_F(ImageStoreTest, LargeUploadStreamsInConstantMemory) {
  constexpr std::size_t kTotal = 64u << 20;
  constexpr std::size_t kChunk = 1u << 20;
  ContentGenerator gen(7);
  crypto::Sha256 expected;
  auto upload = store_->begin_upload(kId);
  const long rss_before = resident_kib();
  for (std::size_t written = 0; written < kTotal; written += kChunk) {
    // Uneven chunk sizes, like network reads.
    const auto chunk = gen.next(written % (3 * kChunk) == 0 ? kChunk - 1 : kChunk + 1);
    expected.update(chunk);
    upload->write(chunk);
  }
  const long rss_after = resident_kib();
  const auto result = upload->finish();
  const auto expected_hex = expected.final_hex();
  EXPECT_GE(result.size, kTotal - 64);
  EXPECT_EQ(result.size, fs::file_size(store_->path_of(kId)));
  EXPECT_EQ(result.sha256, expected_hex);
  EXPECT_EQ(store_->sha256_of_file(kId), expected_hex);
  ASSERT_GT(rss_before, 0);
  EXPECT_LT(rss_after - rss_before, 16 * 1024) << "resident memory grew with the upload";
}

}  // namespace
}  // namespace harmony::sparkle
