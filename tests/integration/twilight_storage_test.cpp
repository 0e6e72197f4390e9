#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/crypto/sha256.hpp"
#include "twilight/lib/command.hpp"
#include "twilight/storage/file_storage.hpp"
#include "twilight/storage/pool_storage.hpp"
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

TEST_F(FileStorageTest, VolumesOfAnotherPoolAreRefusedAndPathsUsedAsTheyAre) {
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

TEST_F(FileStorageTest, VolumesAreSparseFilesThatGrowAndAttachByPoolName) {
  proto::HostVolume volume{"c4e6a8b0-2d1f-4c3e-a5b7-9d8f0e1a2b3c", 1, false, "local", "volume-c4e6", 2};
  EXPECT_FALSE(storage.has_volume(volume));
  storage.ensure_volume(volume);
  const auto path = dir.path() / "state/volumes/volume-c4e6";
  EXPECT_EQ(fs::file_size(path), 2ULL << 30);
  volume.size_gib = 3;
  storage.ensure_volume(volume);
  EXPECT_EQ(fs::file_size(path), 3ULL << 30);
  volume.size_gib = 1;
  storage.ensure_volume(volume);
  EXPECT_EQ(fs::file_size(path), 3ULL << 30) << "never shrunk";

  auto with_volume = instance();
  proto::VolumeAttachment attachment;
  attachment.id = volume.id;
  attachment.pool = "local";
  attachment.name = volume.name;
  with_volume.volumes.push_back(attachment);
  EXPECT_EQ(storage.prepare(with_volume).volumes.at(0).path, path.string());

  storage.remove_volume(volume);
  EXPECT_FALSE(storage.has_volume(volume));
  EXPECT_NO_THROW(storage.remove_volume(volume));
  volume.name = "../escape";
  EXPECT_THROW(storage.ensure_volume(volume), StorageError);
}

// PoolStorage on libvirt's test driver, which keeps dir pools and volumes in memory (it cannot
// upload: image volumes stay empty there; the real-guest e2e test boots from a real pool).
class PoolStorageTest : public FileStorageTest {
 protected:
  // Kept open so that libvirt's in-process test state outlives each PoolStorage (an agent restart).
  virConnectPtr conn = virConnectOpen("test:///default");
  std::string pool_name = "harmony-" + std::to_string(::getpid()) + "-" +
                          ::testing::UnitTest::GetInstance()->current_test_info()->name();

  ~PoolStorageTest() override {
    if (auto* pool = virStoragePoolLookupByName(conn, pool_name.c_str())) {
      virStoragePoolDestroy(pool);
      virStoragePoolUndefine(pool);
      virStoragePoolFree(pool);
    }
    virConnectClose(conn);
  }

  PoolStorage make() {
    return PoolStorage({"test:///default", pool_name, dir.path() / "pool"}, dir.path() / "state");
  }

  std::string volume_xml(const std::string& name) {
    auto* pool = virStoragePoolLookupByName(conn, pool_name.c_str());
    EXPECT_NE(pool, nullptr);
    auto* vol = virStorageVolLookupByName(pool, name.c_str());
    virStoragePoolFree(pool);
    if (vol == nullptr) return "";
    char* xml = virStorageVolGetXMLDesc(vol, 0);
    std::string text(xml);
    free(xml);
    virStorageVolFree(vol);
    return text;
  }
};

TEST_F(PoolStorageTest, ThePoolIsDefinedStartedAndAutostartedOnce) {
  ASSERT_NE(conn, nullptr);
  { auto storage = make(); }
  auto* pool = virStoragePoolLookupByName(conn, pool_name.c_str());
  ASSERT_NE(pool, nullptr);
  int autostart = 0;
  virStoragePoolGetAutostart(pool, &autostart);
  EXPECT_EQ(autostart, 1);
  EXPECT_EQ(virStoragePoolIsActive(pool), 1);
  char* xml = virStoragePoolGetXMLDesc(pool, 0);
  EXPECT_NE(std::string(xml).find("<path>" + (dir.path() / "pool").string() + "</path>"), std::string::npos)
      << xml;
  free(xml);
  // Stopped behind the agent's back: started again by the next agent.
  virStoragePoolDestroy(pool);
  auto storage = make();
  EXPECT_EQ(virStoragePoolIsActive(pool), 1);
  const auto capacity = storage.capacity();
  ASSERT_TRUE(capacity);
  EXPECT_GT(capacity->capacity_bytes, 0u);
  virStoragePoolFree(pool);
}

// A pool of that name left by an installation elsewhere (a moved or deleted directory): an
// inactive one is defined again at the configured path; an active one is refused, naming both.
TEST_F(PoolStorageTest, APoolLeftAtAnotherPathIsDefinedAgainUnlessItIsActive) {
  ASSERT_NE(conn, nullptr);
  const auto old_path = (dir.path() / "gone").string();
  const std::string xml =
      "<pool type='dir'><name>" + pool_name + "</name><target><path>" + old_path + "</path></target></pool>";
  auto* stale = virStoragePoolDefineXML(conn, xml.c_str(), 0);
  ASSERT_NE(stale, nullptr);
  ASSERT_EQ(virStoragePoolCreate(stale, 0), 0);
  try {
    make();
    ADD_FAILURE() << "an active pool at another path was taken over";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(old_path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find((dir.path() / "pool").string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(virStoragePoolIsActive(stale), 1) << "left as it was";

  virStoragePoolDestroy(stale);
  virStoragePoolFree(stale);
  auto storage = make();
  auto* pool = virStoragePoolLookupByName(conn, pool_name.c_str());
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(virStoragePoolIsActive(pool), 1);
  char* defined = virStoragePoolGetXMLDesc(pool, 0);
  EXPECT_NE(std::string(defined).find("<path>" + (dir.path() / "pool").string() + "</path>"),
            std::string::npos)
      << defined;
  free(defined);
  virStoragePoolFree(pool);
}

TEST_F(PoolStorageTest, RootDisksAreQcow2OverlaysOnTheVerifiedImageVolume) {
  auto storage = make();
  const auto prepared = storage.prepare(instance());
  const auto root = PoolStorage::root_volume_name(kInstance);
  const auto base_volume = PoolStorage::image_volume_name(instance().image.value());
  EXPECT_EQ(prepared.root_disk, (dir.path() / "pool" / root).string());
  const auto root_xml = volume_xml(root);
  EXPECT_NE(root_xml.find("<format type='qcow2'/>"), std::string::npos) << root_xml;
  EXPECT_NE(root_xml.find("<backingStore>"), std::string::npos) << root_xml;
  EXPECT_NE(root_xml.find((dir.path() / "pool" / base_volume).string()), std::string::npos) << root_xml;
  EXPECT_NE(root_xml.find("<capacity unit='bytes'>2147483648</capacity>"), std::string::npos) << root_xml;
  EXPECT_NE(volume_xml(base_volume), "");
  // The pool holds the image now: the download cache is emptied, the import remembered.
  EXPECT_FALSE(fs::exists(dir.path() / "state/images" / (std::string(kImage) + ".qcow2")));
  EXPECT_EQ(test::slurp(dir.path() / "state/images" / (std::string(kImage) + ".qcow2.in-pool")), base_sha256);

  // Idempotent, across an agent restart too: the existing disk (the guest's data) is kept.
  auto again = make();
  EXPECT_EQ(again.prepare(instance()).root_disk, prepared.root_disk);
  EXPECT_EQ(volume_xml(root), root_xml);

  // A second instance on the same image reuses the image volume without fetching it again.
  auto other = instance();
  other.id = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
  fs::remove(base);  // the image's source is gone
  EXPECT_NO_THROW(again.prepare(other));

  again.release(kInstance);
  EXPECT_EQ(volume_xml(root), "");
  EXPECT_NE(volume_xml(base_volume), "") << "the image serves other instances";
  EXPECT_NO_THROW(again.release(kInstance));
}

TEST_F(PoolStorageTest, AnImageThatDoesNotMatchItsHashNeverBecomesAVolume) {
  auto storage = make();
  auto wrong = instance();
  wrong.image->sha256 = std::string(64, '0');
  EXPECT_THROW(storage.prepare(wrong), StorageError);
  EXPECT_EQ(volume_xml(PoolStorage::image_volume_name(*wrong.image)), "");
  EXPECT_EQ(volume_xml(PoolStorage::root_volume_name(kInstance)), "");
}

TEST_F(PoolStorageTest, VolumesAreCreatedGrownRemovedAndResolvedForAttachments) {
  auto storage = make();
  proto::HostVolume volume{"c4e6a8b0-2d1f-4c3e-a5b7-9d8f0e1a2b3c", 1, false, "local", "volume-c4e6", 2};
  EXPECT_FALSE(storage.has_volume(volume));
  storage.ensure_volume(volume);
  EXPECT_TRUE(storage.has_volume(volume));
  EXPECT_NE(volume_xml("volume-c4e6").find("<capacity unit='bytes'>2147483648</capacity>"),
            std::string::npos);
  const auto xml = volume_xml("volume-c4e6");
  storage.ensure_volume(volume);
  EXPECT_EQ(volume_xml("volume-c4e6"), xml) << "idempotent";

  auto with_volume = instance();
  proto::VolumeAttachment attachment;
  attachment.id = volume.id;
  attachment.pool = "local";
  attachment.name = volume.name;
  with_volume.volumes.push_back(attachment);
  const auto prepared = storage.prepare(with_volume);
  ASSERT_EQ(prepared.volumes.size(), 1u);
  EXPECT_EQ(prepared.volumes[0].path, (dir.path() / "pool/volume-c4e6").string());
  EXPECT_EQ(prepared.volumes[0].format, "raw");

  // A pool the agent does not have is an error naming it.
  with_volume.volumes[0].pool = "ceph-ssd";
  try {
    storage.prepare(with_volume);
    FAIL() << "resolved a volume of an unknown pool";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("ceph-ssd"), std::string::npos) << e.what();
  }

  storage.remove_volume(volume);
  EXPECT_FALSE(storage.has_volume(volume));
  EXPECT_NO_THROW(storage.remove_volume(volume));
}

}  // namespace
}  // namespace harmony::twilight
