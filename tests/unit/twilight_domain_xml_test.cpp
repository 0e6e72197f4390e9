#include <gtest/gtest.h>

#include <stdexcept>

#include "twilight/lib/command.hpp"
#include "twilight/lib/domain_xml.hpp"
#include "unit/twilight_test_support.hpp"

namespace harmony::twilight {
namespace {

using test::data_dir;

DomainSpec full_spec() {
  DomainSpec spec;
  spec.uuid = "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
  spec.name = "harmony-6f1c2a8e";
  spec.type = DomainType::kvm;
  spec.vcpus = 4;
  spec.ram_mib = 8192;
  spec.root_disk = "/var/lib/harmony/instances/6f1c2a8e/root.qcow2";
  spec.volumes = {
      {.path = "/dev/disk/by-id/wwn-0x600a0b80001234560000abcd", .format = "raw", .shareable = true},
      {.path = "/var/lib/harmony/volumes/data.qcow2", .format = "qcow2", .readonly = true},
  };
  spec.seed_iso = "/var/lib/harmony/instances/6f1c2a8e/seed.iso";
  spec.nics = {{.bridge = "br-flat", .mac = "52:54:00:12:34:56"},
               {.bridge = "brvx100", .mac = "52:54:00:ab:cd:ef"}};
  spec.console_log = "/var/log/harmony/console/6f1c2a8e.log";
  spec.instance_id = "0b8e6f9a-1c2d-4e3f-9a8b-7c6d5e4f3a2b";
  spec.generation = 7;
  return spec;
}

DomainSpec tiny_guest_spec() {
  DomainSpec spec;
  spec.uuid = "00000000-0000-4000-8000-000000000001";
  spec.name = "tiny";
  spec.type = DomainType::qemu;
  spec.vcpus = 1;
  spec.ram_mib = 256;
  spec.root_disk = "/tmp/harmony-test/tiny/root.qcow2";
  spec.seed_iso = "/tmp/harmony-test/tiny/seed.iso";
  spec.console_log = "/tmp/harmony-test/tiny/console.log";
  spec.direct_boot = DirectBoot{.kernel = "/tmp/harmony-test/vmlinuz",
                                .initrd = "/tmp/harmony-test/initramfs.cpio.gz",
                                .cmdline = "console=ttyS0 panic=-1 quiet"};
  spec.instance_id = "tiny-instance";
  spec.generation = 1;
  return spec;
}

// Every text a tenant or an operator can influence goes through escaping.
DomainSpec hostile_spec() {
  DomainSpec spec = tiny_guest_spec();
  spec.name = "a&b<c>'d\"e";
  spec.root_disk = "/srv/it's <odd> & \"quoted\".qcow2";
  spec.volumes = {{.path = "/srv/vol&1.raw"}};
  spec.nics = {{.bridge = "br-0", .mac = "52:54:00:00:00:01"}};
  spec.console_log = "/var/log/<console>&'.log";
  spec.direct_boot->cmdline = "console=ttyS0 harmony.note=\"a<b & c>'d\"";
  spec.instance_id = "id'\"<&>";
  return spec;
}

const std::vector<std::pair<std::string, DomainSpec>>& golden_cases() {
  static const std::vector<std::pair<std::string, DomainSpec>> cases = {
      {"full", full_spec()}, {"tiny-direct-kernel", tiny_guest_spec()}, {"escaping", hostile_spec()}};
  return cases;
}

std::filesystem::path golden_path(const std::string& name) {
  return data_dir() / "domain-xml" / (name + ".xml");
}

TEST(DomainXml, MatchesGoldenFiles) {
  for (const auto& [name, spec] : golden_cases()) {
    SCOPED_TRACE(name);
    test::expect_golden(golden_path(name), render_domain_xml(spec));
  }
}

// libvirt's own RelaxNG schema: the golden files are what libvirt will be given.
TEST(DomainXml, GoldenFilesPassLibvirtSchema) {
  ASSERT_TRUE(find_program("virt-xml-validate"))
      << "virt-xml-validate missing: apt-get install libvirt-clients";
  ASSERT_TRUE(find_program("xmllint"))
      << "xmllint (run by virt-xml-validate) missing: apt-get install libxml2-utils";
  for (const auto& [name, spec] : golden_cases()) {
    const auto result = run_command({"virt-xml-validate", golden_path(name).string(), "domain"});
    EXPECT_TRUE(result.succeeded()) << golden_path(name) << ": " << result.describe() << "\n"
                                    << result.output;
  }
}

// libvirt's own parser (the in-process test driver, no daemon) accepts every golden file, and
// finds the instance again by the metadata namespace as a restarted Twilight will.
TEST(DomainXml, LibvirtDefinesGoldenDomainsAndReadsTheirMetadata) {
  ASSERT_TRUE(find_program("virsh")) << "virsh missing: apt-get install libvirt-clients";
  for (const auto& [name, spec] : golden_cases()) {
    SCOPED_TRACE(name);
    test::ScratchDir dir;  // a path virsh's command parser needs no quoting for
    std::filesystem::copy_file(golden_path(name), dir.path() / "domain.xml");
    const auto result = run_command({"virsh", "-c", "test:///default",
                                     "define " + (dir.path() / "domain.xml").string() + "; metadata " +
                                         spec.uuid + " " + std::string(kInstanceMetadataNamespace)});
    ASSERT_TRUE(result.succeeded()) << result.describe() << "\n" << result.output;
    // libvirt writes the element back with double-quoted attributes.
    std::string expected_id;
    for (const char c : spec.instance_id) {
      expected_id += c == '&'   ? "&amp;"
                     : c == '<' ? "&lt;"
                     : c == '>' ? "&gt;"
                     : c == '"' ? "&quot;"
                                : std::string(1, c);
    }
    EXPECT_NE(result.output.find("<instance id=\"" + expected_id + "\" generation=\"" +
                                 std::to_string(spec.generation) + "\"/>"),
              std::string::npos)
        << result.output;
  }
}

// An XML parser reads back exactly what went in.
TEST(DomainXml, EscapedValuesRoundTrip) {
  ASSERT_TRUE(find_program("xmllint")) << "xmllint missing: apt-get install libxml2-utils";
  const auto spec = hostile_spec();
  const auto xpath = [](const std::string& expression) {
    const auto result = run_command({"xmllint", "--xpath", expression, golden_path("escaping").string()});
    EXPECT_TRUE(result.succeeded()) << expression << ": " << result.output;
    auto value = result.output;
    if (value.ends_with('\n')) value.pop_back();  // xmllint ends what it prints with a newline
    return value;
  };
  EXPECT_EQ(xpath("string(/domain/name)"), spec.name);
  EXPECT_EQ(xpath("string(/domain/devices/disk[1]/source/@file)"), spec.root_disk);
  EXPECT_EQ(xpath("string(/domain/devices/disk[2]/source/@file)"), spec.volumes[0].path);
  EXPECT_EQ(xpath("string(/domain/devices/serial/source/@path)"), spec.console_log);
  EXPECT_EQ(xpath("string(/domain/os/cmdline)"), *spec.direct_boot->cmdline);
  EXPECT_EQ(xpath("string(/domain/metadata/*[local-name()='instance']/@id)"), spec.instance_id);
}

TEST(DomainXml, MetadataIdentifiesTheInstance) {
  const auto xml = render_domain_xml(full_spec());
  EXPECT_NE(xml.find("  <metadata>\n"
                     "    <harmony:instance xmlns:harmony='https://harmony.invalid/xmlns/instance/1' "
                     "id='0b8e6f9a-1c2d-4e3f-9a8b-7c6d5e4f3a2b' generation='7'/>\n"
                     "  </metadata>\n"),
            std::string::npos)
      << xml;
}

TEST(DomainXml, DevicesLibvirtNeedsForACloudGuest) {
  const auto xml = render_domain_xml(full_spec());
  for (const std::string expected : {
           "<domain type='kvm'>",
           "<on_crash>destroy</on_crash>",
           "<memballoon model='none'/>",
           "<target dev='vda' bus='virtio'/>",
           "<target dev='vdb' bus='virtio'/>",
           "<target dev='vdc' bus='virtio'/>",
           "<disk type='block' device='disk'>",
           "<source dev='/dev/disk/by-id/wwn-0x600a0b80001234560000abcd'/>",
           "<shareable/>",
           "<disk type='file' device='cdrom'>",
           "<target dev='sda' bus='sata'/>",
           "<serial type='file'>",
           "<console type='file'>",
           "<source bridge='brvx100'/>",
           "<mac address='52:54:00:ab:cd:ef'/>",
           "<model type='virtio'/>",
       }) {
    EXPECT_NE(xml.find(expected), std::string::npos) << expected;
  }
  EXPECT_EQ(render_domain_xml(full_spec()), xml) << "rendering is deterministic";
}

TEST(DomainXml, DiskTargetNames) {
  EXPECT_EQ(disk_target_name("vd", 0), "vda");
  EXPECT_EQ(disk_target_name("vd", 25), "vdz");
  EXPECT_EQ(disk_target_name("vd", 26), "vdaa");
  EXPECT_EQ(disk_target_name("vd", 27), "vdab");
  EXPECT_EQ(disk_target_name("vd", 701), "vdzz");
  EXPECT_EQ(disk_target_name("vd", 702), "vdaaa");
  EXPECT_EQ(disk_target_name("sd", 1), "sdb");
  EXPECT_THROW(disk_target_name("vd", -1), std::invalid_argument);
}

TEST(DomainXml, RefusesWhatLibvirtWouldRefuse) {
  const auto refuses = [](auto&& change) {
    auto spec = full_spec();
    change(spec);
    EXPECT_THROW(render_domain_xml(spec), std::invalid_argument);
  };
  refuses([](DomainSpec& s) { s.uuid = "not-a-uuid"; });
  refuses([](DomainSpec& s) { s.name = ""; });
  refuses([](DomainSpec& s) { s.name = "a/b"; });
  refuses([](DomainSpec& s) { s.vcpus = 0; });
  refuses([](DomainSpec& s) { s.ram_mib = 0; });
  refuses([](DomainSpec& s) { s.root_disk.clear(); });
  refuses([](DomainSpec& s) { s.console_log.clear(); });
  refuses([](DomainSpec& s) { s.instance_id.clear(); });
  refuses([](DomainSpec& s) { s.nics[0].mac = "52:54:00:12:34"; });
  refuses([](DomainSpec& s) { s.nics[0].bridge.clear(); });
  refuses([](DomainSpec& s) { s.nics[0].bridge = "br'<&>"; });
  refuses([](DomainSpec& s) { s.nics[0].bridge = "a-bridge-name-too-long"; });
  refuses([](DomainSpec& s) { s.volumes[1] = {.path = "/v.qcow2", .format = "qcow2", .shareable = true}; });
  refuses([](DomainSpec& s) { s.name = std::string("a\x01", 2); });
  // A shareable qcow2 is fine when nobody writes it.
  auto spec = full_spec();
  spec.volumes[1] = {.path = "/v.qcow2", .format = "qcow2", .readonly = true, .shareable = true};
  EXPECT_NO_THROW(render_domain_xml(spec));
}

}  // namespace
}  // namespace harmony::twilight
