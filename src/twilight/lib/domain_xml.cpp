#include "twilight/lib/domain_xml.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "twilight/lib/xml_escape.hpp"

namespace harmony::twilight {
namespace {

bool is_hex_pattern(std::string_view text, std::string_view pattern) {
  if (text.size() != pattern.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool want_hex = pattern[i] == 'x';
    if (want_hex ? !std::isxdigit(static_cast<unsigned char>(text[i])) : text[i] != pattern[i]) return false;
  }
  return true;
}

// What Linux accepts as an interface name (IFNAMSIZ) and libvirt's schema as a device name.
bool is_interface_name(std::string_view name) {
  if (name.empty() || name.size() > 15) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' || c == ':';
  });
}

void check(const DomainSpec& spec) {
  const auto refuse = [](const std::string& why) { throw std::invalid_argument("domain spec: " + why); };
  if (spec.name.empty() || spec.name.find('/') != std::string::npos) refuse("name is empty or has '/'");
  if (!is_hex_pattern(spec.uuid, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")) refuse("uuid is not a UUID");
  if (spec.vcpus < 1) refuse("vcpus below 1");
  if (spec.ram_mib < 1) refuse("ram_mib below 1");
  if (spec.root_disk.empty()) refuse("no root disk");
  if (spec.console_log.empty()) refuse("no console log path");
  if (spec.instance_id.empty()) refuse("no instance id");
  if (spec.direct_boot && spec.direct_boot->kernel.empty()) refuse("direct boot without a kernel");
  for (const auto& volume : spec.volumes) {
    if (volume.path.empty()) refuse("volume without a path");
    if (volume.format.empty()) refuse("volume without a format");
    // QEMU refuses concurrent writers on anything but raw: its formats keep metadata in the file.
    if (volume.shareable && !volume.readonly && volume.format != "raw") {
      refuse("writable shareable volume " + volume.path + " must be raw");
    }
  }
  for (const auto& nic : spec.nics) {
    if (!is_interface_name(nic.bridge)) refuse("bridge '" + nic.bridge + "' is not an interface name");
    if (!is_hex_pattern(nic.mac, "xx:xx:xx:xx:xx:xx")) refuse("NIC MAC '" + nic.mac + "' is not a MAC");
  }
}

std::string_view type_name(DomainType type) {
  return type == DomainType::kvm ? "kvm" : "qemu";
}

// Appends XML line by line. Values go in through element() and attr(), which escape them.
class XmlWriter {
 public:
  XmlWriter& line(int depth, std::string_view text) {
    out_.append(static_cast<size_t>(depth) * 2, ' ');
    out_ += text;
    out_ += '\n';
    return *this;
  }
  // <tag>text</tag>
  XmlWriter& element(int depth, std::string_view tag, std::string_view text) {
    return line(depth, "<" + std::string(tag) + ">" + xml_escape(text) + "</" + std::string(tag) + ">");
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string attr(std::string_view name, std::string_view value) {
  return " " + std::string(name) + "='" + xml_escape(value) + "'";
}

void write_disk(XmlWriter& xml, std::string_view device, const std::string& path, std::string_view format,
                std::string_view target, std::string_view bus, bool readonly, bool shareable, int depth = 2) {
  const bool block = path.starts_with("/dev/");
  xml.line(depth, "<disk" + attr("type", block ? "block" : "file") + attr("device", device) + ">");
  // A shared disk must not sit in one host's page cache while another host writes it.
  xml.line(depth + 1,
           "<driver name='qemu'" + attr("type", format) + (shareable ? " cache='none'" : "") + "/>");
  xml.line(depth + 1, "<source" + attr(block ? "dev" : "file", path) + "/>");
  xml.line(depth + 1, "<target" + attr("dev", target) + attr("bus", bus) + "/>");
  if (readonly) xml.line(depth + 1, "<readonly/>");
  if (shareable) xml.line(depth + 1, "<shareable/>");
  xml.line(depth, "</disk>");
}

}  // namespace

std::string disk_target_name(std::string_view prefix, int index) {
  if (index < 0) throw std::invalid_argument("negative disk index");
  // Bijective base 26, as libvirt's virDiskNameFromIndex: z is followed by aa.
  std::string suffix;
  for (int n = index + 1; n > 0; n = (n - 1) / 26) suffix += static_cast<char>('a' + (n - 1) % 26);
  std::reverse(suffix.begin(), suffix.end());
  return std::string(prefix) + suffix;
}

std::string render_domain_xml(const DomainSpec& spec) {
  check(spec);
  XmlWriter xml;
  xml.line(0, "<domain" + attr("type", type_name(spec.type)) + ">");
  xml.element(1, "name", spec.name);
  xml.element(1, "uuid", spec.uuid);
  xml.line(1, "<metadata>");
  xml.line(2, "<harmony:instance" + attr("xmlns:harmony", kInstanceMetadataNamespace) +
                  attr("id", spec.instance_id) + attr("generation", std::to_string(spec.generation)) + "/>");
  xml.line(1, "</metadata>");
  xml.line(1, "<memory unit='MiB'>" + std::to_string(spec.ram_mib) + "</memory>");
  xml.line(1, "<vcpu placement='static'>" + std::to_string(spec.vcpus) + "</vcpu>");
  xml.line(1, "<os>");
  xml.line(2, "<type" + attr("arch", spec.arch) + attr("machine", spec.machine) + ">hvm</type>");
  if (spec.direct_boot) {
    xml.element(2, "kernel", spec.direct_boot->kernel);
    if (spec.direct_boot->initrd) xml.element(2, "initrd", *spec.direct_boot->initrd);
    if (spec.direct_boot->cmdline) xml.element(2, "cmdline", *spec.direct_boot->cmdline);
  } else {
    xml.line(2, "<boot dev='hd'/>");
  }
  xml.line(1, "</os>");
  xml.line(1, "<features>").line(2, "<acpi/>").line(2, "<apic/>").line(1, "</features>");
  xml.line(1, "<clock offset='utc'/>");
  xml.line(1, "<on_poweroff>destroy</on_poweroff>");
  xml.line(1, "<on_reboot>restart</on_reboot>");
  // A crashed guest stays down until Twilight, converging, decides what to do with it.
  xml.line(1, "<on_crash>destroy</on_crash>");
  xml.line(1, "<devices>");
  int virtio_index = 0;
  write_disk(xml, "disk", spec.root_disk, "qcow2", disk_target_name("vd", virtio_index++), "virtio", false,
             false);
  for (const auto& volume : spec.volumes) {
    write_disk(xml, "disk", volume.path, volume.format, disk_target_name("vd", virtio_index++), "virtio",
               volume.readonly, volume.shareable);
  }
  if (spec.seed_iso) write_disk(xml, "cdrom", *spec.seed_iso, "raw", "sda", "sata", true, false);
  for (const auto& nic : spec.nics) {
    xml.line(2, "<interface type='bridge'>");
    xml.line(3, "<mac" + attr("address", nic.mac) + "/>");
    xml.line(3, "<source" + attr("bridge", nic.bridge) + "/>");
    xml.line(3, "<model type='virtio'/>");
    xml.line(2, "</interface>");
  }
  xml.line(2, "<serial type='file'>");
  xml.line(3, "<source" + attr("path", spec.console_log) + "/>");
  xml.line(3, "<target port='0'/>");
  xml.line(2, "</serial>");
  xml.line(2, "<console type='file'>");
  xml.line(3, "<source" + attr("path", spec.console_log) + "/>");
  xml.line(3, "<target type='serial' port='0'/>");
  xml.line(2, "</console>");
  // Memory given to a guest stays given: placement counts it as used.
  xml.line(2, "<memballoon model='none'/>");
  xml.line(1, "</devices>");
  xml.line(0, "</domain>");
  return xml.take();
}

std::string render_volume_disk_xml(const VolumeDisk& volume, std::string_view target) {
  if (volume.path.empty()) throw std::invalid_argument("volume without a path");
  if (volume.format.empty()) throw std::invalid_argument("volume without a format");
  if (volume.shareable && !volume.readonly && volume.format != "raw") {
    throw std::invalid_argument("writable shareable volume " + volume.path + " must be raw");
  }
  XmlWriter xml;
  write_disk(xml, "disk", volume.path, volume.format, target, "virtio", volume.readonly, volume.shareable, 0);
  return xml.take();
}

}  // namespace harmony::twilight
