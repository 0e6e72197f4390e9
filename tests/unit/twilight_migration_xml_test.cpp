#include <gtest/gtest.h>

#include "twilight/hypervisor/migration_xml.hpp"

namespace harmony::twilight {
namespace {

// As libvirt writes a live migratable definition: single quotes, double quotes in metadata.
constexpr const char* kDomain = R"(<domain type='qemu'>
  <metadata>
    <harmony:instance xmlns:harmony="https://harmony/x" id="3e8a" generation="3"/>
  </metadata>
  <devices>
    <disk type='file' device='disk'>
      <source file='/var/lib/a/pool/instance-3e8a.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <source file='/var/lib/a/pool/instance-3e8a.qcow2.bak'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file="/var/lib/a/seeds/it&apos;s.iso"/>
      <target dev='sda' bus='sata'/>
    </disk>
    <serial type='file'>
      <source path='/var/lib/a/console/3e8a.log'/>
    </serial>
    <console type='file'>
      <source path='/var/lib/a/console/3e8a.log'/>
    </console>
  </devices>
  <description>/var/lib/a/console/3e8a.log</description>
</domain>)";

TEST(MigrationXml, ReplacesWholeFileAndPathAttributeValuesOnly) {
  const auto out =
      replace_file_paths(kDomain, {{"/var/lib/a/pool/instance-3e8a.qcow2", "/srv/b/instance-3e8a.qcow2"},
                                   {"/var/lib/a/seeds/it's.iso", "/srv/b/seed&1.iso"},
                                   {"/var/lib/a/console/3e8a.log", "/srv/b/3e8a.log"}});
  EXPECT_NE(out.find("<source file='/srv/b/instance-3e8a.qcow2'/>"), std::string::npos) << out;
  // A longer path that merely starts with a replaced one is another file.
  EXPECT_NE(out.find("<source file='/var/lib/a/pool/instance-3e8a.qcow2.bak'/>"), std::string::npos) << out;
  EXPECT_NE(out.find("<source file=\"/srv/b/seed&amp;1.iso\"/>"), std::string::npos) << out;
  EXPECT_NE(out.find("<serial type='file'>\n      <source path='/srv/b/3e8a.log'/>"), std::string::npos)
      << out;
  EXPECT_NE(out.find("<console type='file'>\n      <source path='/srv/b/3e8a.log'/>"), std::string::npos)
      << out;
  // Text is not a file name attribute.
  EXPECT_NE(out.find("<description>/var/lib/a/console/3e8a.log</description>"), std::string::npos) << out;
  EXPECT_NE(out.find(R"(<harmony:instance xmlns:harmony="https://harmony/x" id="3e8a" generation="3"/>)"),
            std::string::npos);
}

TEST(MigrationXml, WithoutChangesTheDefinitionIsCopiedAsItIs) {
  EXPECT_EQ(replace_file_paths(kDomain, {}), kDomain);
}

}  // namespace
}  // namespace harmony::twilight
