#include "twilight/hypervisor/domain_xml_reader.hpp"

#include <charconv>

#include "twilight/lib/domain_xml.hpp"
#include "twilight/lib/xml_escape.hpp"

namespace harmony::twilight {
namespace {

// The value of attribute `name` inside one start tag, either quote style.
std::optional<std::string> attribute(std::string_view tag, std::string_view name) {
  for (std::size_t at = tag.find(name); at != std::string_view::npos; at = tag.find(name, at + 1)) {
    const bool starts_word = at > 0 && (tag[at - 1] == ' ' || tag[at - 1] == '\t' || tag[at - 1] == '\n');
    std::size_t eq = at + name.size();
    while (eq < tag.size() && tag[eq] == ' ') ++eq;
    if (!starts_word || eq >= tag.size() || tag[eq] != '=') continue;
    std::size_t quote = eq + 1;
    while (quote < tag.size() && tag[quote] == ' ') ++quote;
    if (quote >= tag.size() || (tag[quote] != '\'' && tag[quote] != '"')) return std::nullopt;
    auto end = tag.find(tag[quote], quote + 1);
    if (end == std::string_view::npos) return std::nullopt;
    return xml_unescape(tag.substr(quote + 1, end - quote - 1));
  }
  return std::nullopt;
}

template <class T>
std::optional<T> number(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

struct Element {
  std::string_view start_tag;  // "<memory unit='MiB'>"
  std::string_view text;       // between the start and end tags
};

// The first element named `tag` (not matching longer names such as <name> for <nameserver>).
std::optional<Element> find_element(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag);
  for (std::size_t at = xml.find(open); at != std::string_view::npos; at = xml.find(open, at + 1)) {
    const std::size_t after = at + open.size();
    if (after >= xml.size() || (xml[after] != '>' && xml[after] != ' ' && xml[after] != '/')) continue;
    const auto close = xml.find('>', after);
    if (close == std::string_view::npos) return std::nullopt;
    Element element{xml.substr(at, close - at + 1), {}};
    if (xml[close - 1] == '/') return element;
    const auto end = xml.find("</" + std::string(tag) + ">", close);
    if (end == std::string_view::npos) return std::nullopt;
    element.text = xml.substr(close + 1, end - close - 1);
    return element;
  }
  return std::nullopt;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::optional<InstanceMetadata> metadata_from_tag(std::string_view tag) {
  auto id = attribute(tag, "id");
  auto generation = attribute(tag, "generation");
  if (!id || id->empty() || !generation) return std::nullopt;
  auto value = number<std::uint64_t>(*generation);
  if (!value) return std::nullopt;
  return InstanceMetadata{*id, *value};
}

}  // namespace

std::optional<InstanceMetadata> parse_instance_metadata(std::string_view element_xml) {
  const auto open = element_xml.find('<');
  if (open == std::string_view::npos) return std::nullopt;
  const auto close = element_xml.find('>', open);
  if (close == std::string_view::npos) return std::nullopt;
  const auto tag = element_xml.substr(open, close - open + 1);
  const auto name_end = tag.find_first_of(" />\t\n", 1);
  const auto name = tag.substr(1, name_end - 1);
  if (name != "instance" && !name.ends_with(":instance")) return std::nullopt;
  return metadata_from_tag(tag);
}

DomainIdentity read_domain_identity(std::string_view xml) {
  DomainIdentity identity;
  auto name = find_element(xml, "name");
  auto uuid = find_element(xml, "uuid");
  if (!name || trim(name->text).empty()) throw HypervisorError("domain XML has no <name>");
  if (!uuid || trim(uuid->text).empty()) throw HypervisorError("domain XML has no <uuid>");
  identity.name = xml_unescape(trim(name->text));
  identity.uuid = xml_unescape(trim(uuid->text));
  if (auto vcpu = find_element(xml, "vcpu")) {
    if (auto n = number<std::uint32_t>(trim(vcpu->text))) identity.vcpus = *n;
  }
  if (auto memory = find_element(xml, "memory")) {
    if (auto n = number<std::uint64_t>(trim(memory->text))) {
      const auto unit = attribute(memory->start_tag, "unit").value_or("KiB");
      identity.memory_mib = unit == "MiB" ? *n : unit == "GiB" ? *n * 1024 : *n / 1024;
    }
  }
  if (auto metadata = find_element(xml, "metadata")) {
    // The element in Harmony's namespace, whatever its prefix.
    const auto ns = metadata->text.find(kInstanceMetadataNamespace);
    if (ns != std::string_view::npos) {
      const auto open = metadata->text.rfind('<', ns);
      const auto close = metadata->text.find('>', ns);
      if (open != std::string_view::npos && close != std::string_view::npos) {
        identity.metadata = parse_instance_metadata(metadata->text.substr(open, close - open + 1));
      }
    }
  }
  return identity;
}

std::vector<DomainDisk> read_domain_disks(std::string_view xml) {
  std::vector<DomainDisk> disks;
  std::size_t from = 0;
  while (auto disk = find_element(xml.substr(from), "disk")) {
    DomainDisk entry;
    entry.device = attribute(disk->start_tag, "device").value_or("disk");
    if (auto source = find_element(disk->text, "source")) {
      auto path = attribute(source->start_tag, "file");
      if (!path) path = attribute(source->start_tag, "dev");
      entry.source = path.value_or("");
    }
    if (auto target = find_element(disk->text, "target")) {
      entry.target = attribute(target->start_tag, "dev").value_or("");
    }
    disks.push_back(std::move(entry));
    // Past this element: its text lies inside `xml`, after its start tag.
    const auto* end = disk->text.empty() ? disk->start_tag.data() + disk->start_tag.size()
                                         : disk->text.data() + disk->text.size();
    from = static_cast<std::size_t>(end - xml.data());
  }
  return disks;
}

std::vector<std::string> read_domain_interface_macs(std::string_view xml) {
  std::vector<std::string> macs;
  std::size_t from = 0;
  while (auto nic = find_element(xml.substr(from), "interface")) {
    if (auto mac = find_element(nic->text, "mac")) {
      if (auto address = attribute(mac->start_tag, "address")) macs.push_back(*address);
    }
    const auto* end = nic->text.empty() ? nic->start_tag.data() + nic->start_tag.size()
                                        : nic->text.data() + nic->text.size();
    from = static_cast<std::size_t>(end - xml.data());
  }
  return macs;
}

}  // namespace harmony::twilight
