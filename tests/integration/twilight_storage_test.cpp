#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "common/crypto/sha256.hpp"
#include "twilight/lib/command.hpp"
#include "twilight/storage/file_storage.hpp"
#include "unit/twilight_test_support.hpp"

// FileStorage with the real tools: qemu-img (qemu-utils) and genisoimage.
namespace harmony::twilight {
namespace {

namespace fs = std::filesystem;

constexpr const char* kInstance = "3e8a1f2c-7b4d-4a9e-8c61-5d2f0e9b7a13";
constexpr const char* kImage = "4f6a8c0e-2b4d-4e6f-8a0c-2e4b6d8f0a1c";

nlohmann::json qemu_img_info(const fs::path& disk) {
  auto result = run_command({"qemu-img", "info", "--output=json", "-U", disk.string()});
  EXPECT_TRUE(result.succeeded()) << result.output;
  return nlohmann::json::parse(result.output);
}

class FileStorageTest : public ::testing::Test {
 protected:
  test::ScratchDir dir;
  FileStorage storage{dir.path() / "state"};
  fs::path base = dir.path() / "base.qcow2";
  std::string base_sha256;

  void SetUp() override {
    ASSERT_TRUE(find_program("qemu-img")) << "apt-get install qemu-utils";
    ASSERT_TRUE(find_program("genisoimage")) << "apt-get install genisoimage";
    auto made = run_command({"qemu-img", "create", "-q", "-f", "qcow2", base.string(), "64M"});
    ASSERT_TRUE(made.succeeded()) << made.output;
    base_sha256 = crypto::sha256_hex(test::slurp(base));
  }

  proto::Instance instance() {
    proto::Instance i;
    i.id = kInstance;
    i.name = "web-1";
    i.generation = 1;
    i.vcpus = 1;
    i.ram_mib = 128;
    i.disk_gib = 2;
    i.image = proto::ImageRef{kImage, base_sha256, "file://" + base.string(), proto::ImageFormat::qcow2};
    return i;
  }
};

TEST_F(FileStorageTest, RootDiskIsAnOverlayOnTheVerifiedCachedImage) {
  const auto prepared = storage.prepare(instance());
  EXPECT_EQ(prepared.root_disk, (dir.path() / "state/disks" / (std::string(kInstance) + ".qcow2")).string());
  const auto info = qemu_img_info(prepared.root_disk);
  EXPECT_EQ(info["format"], "qcow2");
  EXPECT_EQ(info["virtual-size"], 2LL << 30);
  const auto cached = dir.path() / "state/images" / (std::string(kImage) + ".qcow2");
  EXPECT_EQ(info["backing-filename"], cached.string());
  EXPECT_EQ(info["backing-filename-format"], "qcow2");
  EXPECT_EQ(crypto::sha256_hex(test::slurp(cached)), base_sha256);
  EXPECT_FALSE(prepared.seed_iso);
  EXPECT_EQ(prepared.console_log,
            (dir.path() / "state/console" / (std::string(kInstance) + ".log")).string());
  EXPECT_TRUE(fs::is_directory(dir.path() / "state/console"));

  // An existing disk holds the guest's data: preparing again keeps it.
  const auto written = fs::last_write_time(prepared.root_disk);
  storage.prepare(instance());
  EXPECT_EQ(fs::last_write_time(prepared.root_disk), written);

  storage.release(kInstance);
  EXPECT_FALSE(fs::exists(prepared.root_disk));
  EXPECT_TRUE(fs::exists(cached)) << "the image cache serves other instances";
  EXPECT_NO_THROW(storage.release(kInstance));
}

TEST_F(FileStorageTest, AnImageThatDoesNotMatchItsHashIsRefused) {
  auto wrong = instance();
  wrong.image->sha256 = std::string(64, '0');
  EXPECT_THROW(storage.prepare(wrong), StorageError);
  EXPECT_FALSE(fs::exists(dir.path() / "state/disks" / (std::string(kInstance) + ".qcow2")));
  EXPECT_FALSE(fs::exists(dir.path() / "state/images" / (std::string(kImage) + ".qcow2")));

  // Nor is a cached file that changed behind the agent's back.
  auto cached = dir.path() / "state/images" / (std::string(kImage) + ".qcow2");
  test::spit(cached, "tampered");
  EXPECT_THROW(storage.prepare(instance()), StorageError);
}

TEST_F(FileStorageTest, DownloadsAreNotImplementedAndSaySoWithThePathToFill) {
  auto remote = instance();
  remote.image->url = "https://10.0.0.11:8443/api/v1/images/" + std::string(kImage) + "/file";
  try {
    storage.prepare(remote);
    FAIL() << "prepared an instance whose image is not there";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find((dir.path() / "state/images").string()), std::string::npos)
        << e.what();
  }
  // Placed there by hand, it is used after checking its hash.
  fs::create_directories(dir.path() / "state/images");
  fs::copy_file(base, dir.path() / "state/images" / (std::string(kImage) + ".qcow2"));
  EXPECT_NO_THROW(storage.prepare(remote));
}

TEST_F(FileStorageTest, WithoutAnImageTheRootDiskIsBlank) {
  auto blank = instance();
  blank.image.reset();
  blank.disk_gib = 0;
  const auto info = qemu_img_info(storage.prepare(blank).root_disk);
  EXPECT_EQ(info["virtual-size"], 1LL << 30);
  EXPECT_FALSE(info.contains("backing-filename"));
}

TEST_F(FileStorageTest, CloudInitSeedIsAPrivateNoCloudImage) {
  auto with_seed = instance();
  with_seed.nics.push_back({"8e0a2c4e-6f8b-4d0f-a2c4-6e8a0c2e4f6b", "52:54:00:6b:3c:01", "br0", "10.0.0.5",
                            "10.0.0.0/24", "10.0.0.1"});
  with_seed.cloud_init =
      proto::CloudInit{kInstance, "web-1", std::string("#cloud-config\npassword: x\n"), std::nullopt};
  const auto prepared = storage.prepare(with_seed);
  ASSERT_TRUE(prepared.seed_iso);
  struct stat st {};
  ASSERT_EQ(::stat(prepared.seed_iso->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto volume = run_command({"isoinfo", "-d", "-i", *prepared.seed_iso});
  EXPECT_NE(volume.output.find("Volume id: cidata"), std::string::npos) << volume.output;
  const auto user_data = run_command({"isoinfo", "-R", "-i", *prepared.seed_iso, "-x", "/user-data"});
  EXPECT_EQ(user_data.output, "#cloud-config\npassword: x\n");
  const auto network = run_command({"isoinfo", "-R", "-i", *prepared.seed_iso, "-x", "/network-config"});
  EXPECT_NE(network.output.find("10.0.0.5/24"), std::string::npos) << network.output;
  // No scratch directory with the user data is left behind.
  for (const auto& entry : fs::directory_iterator(dir.path() / "state/seeds")) {
    EXPECT_EQ(entry.path(), *prepared.seed_iso);
  }
  storage.release(kInstance);
  EXPECT_FALSE(fs::exists(*prepared.seed_iso));
}

TEST_F(FileStorageTest, PoolVolumesAreNotSupportedYet) {
  auto with_volume = instance();
  with_volume.volumes.push_back(
      {"c4e6a8b0-2d1f-4c3e-a5b7-9d8f0e1a2b3c", std::nullopt, "local-lvm", "vol-1", 10});
  EXPECT_THROW(storage.prepare(with_volume), StorageError);
  auto with_path = instance();
  with_path.volumes.push_back({"c4e6a8b0-2d1f-4c3e-a5b7-9d8f0e1a2b3c", "/dev/mapper/mpatha", std::nullopt,
                               std::nullopt, 10, false, true});
  const auto prepared = storage.prepare(with_path);
  ASSERT_EQ(prepared.volumes.size(), 1u);
  EXPECT_EQ(prepared.volumes[0].path, "/dev/mapper/mpatha");
  EXPECT_EQ(prepared.volumes[0].format, "raw");
  EXPECT_TRUE(prepared.volumes[0].shareable);
}

}  // namespace
}  // namespace harmony::twilight
