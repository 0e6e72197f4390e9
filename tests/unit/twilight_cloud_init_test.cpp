#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "twilight/lib/cloud_init.hpp"
#include "twilight/lib/command.hpp"
#include "twilight/lib/seed_iso.hpp"
#include "unit/twilight_test_support.hpp"

namespace harmony::twilight {
namespace {

using test::data_dir;

std::vector<GuestNic> static_nics() {
  return {
      {.mac = "52:54:00:12:34:56",
       .addresses = {"10.20.0.15/24"},
       .gateway = "10.20.0.1",
       .nameservers = {"10.20.0.2", "10.20.0.3"},
       .search_domains = {"tenant.example"}},
      {.mac = "52:54:00:00:00:60", .addresses = {"2001:db8:60::15/64"}, .gateway = "2001:db8:60::1"},
      {.mac = "52:54:00:00:00:61"},
  };
}

// PyYAML is what cloud-init parses these documents with.
nlohmann::json parse_yaml(const std::string& document) {
  test::ScratchDir dir;
  test::spit(dir.path() / "doc.yaml", document);
  const auto result =
      run_command({"/usr/bin/python3", "-c",
                   "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1], 'rb'))))",
                   (dir.path() / "doc.yaml").string()});
  EXPECT_TRUE(result.succeeded()) << "python3-yaml needed: " << result.describe() << "\n" << result.output;
  return result.succeeded() ? nlohmann::json::parse(result.output) : nlohmann::json();
}

TEST(CloudInit, MetaDataMatchesGolden) {
  test::expect_golden(data_dir() / "cloud-init/meta-data.yaml",
                      render_meta_data("0b8e6f9a-1c2d-4e3f-9a8b-7c6d5e4f3a2b", "web-1"));
}

TEST(CloudInit, NetworkConfigMatchesGoldens) {
  test::expect_golden(data_dir() / "cloud-init/network-config-dhcp.yaml",
                      render_network_config({{.mac = "52:54:00:12:34:56"}}));
  test::expect_golden(data_dir() / "cloud-init/network-config-static.yaml",
                      render_network_config(static_nics()));
}

TEST(CloudInit, MetaDataParsesToWhatWasGiven) {
  EXPECT_EQ(parse_yaml(render_meta_data("i-1", "web-1")),
            (nlohmann::json{{"instance-id", "i-1"}, {"local-hostname", "web-1"}}));
  // Values YAML would otherwise turn into numbers, booleans, nulls or more keys.
  const std::string hostile = "no\n\"x\": [1, 2] # \\ \t\x01";
  EXPECT_EQ(parse_yaml(render_meta_data("12:30", hostile)),
            (nlohmann::json{{"instance-id", "12:30"}, {"local-hostname", hostile}}));
  EXPECT_EQ(parse_yaml(render_meta_data("null", "")), (nlohmann::json{{"instance-id", "null"}}));
  EXPECT_THROW(render_meta_data("", "web-1"), std::invalid_argument);
}

TEST(CloudInit, NetworkConfigParsesToVersion2) {
  const auto expected = nlohmann::json::parse(R"({
    "version": 2,
    "ethernets": {
      "eth0": {
        "match": {"macaddress": "52:54:00:12:34:56"},
        "set-name": "eth0",
        "addresses": ["10.20.0.15/24"],
        "routes": [{"to": "0.0.0.0/0", "via": "10.20.0.1"}],
        "nameservers": {"addresses": ["10.20.0.2", "10.20.0.3"], "search": ["tenant.example"]}
      },
      "eth1": {
        "match": {"macaddress": "52:54:00:00:00:60"},
        "set-name": "eth1",
        "addresses": ["2001:db8:60::15/64"],
        "routes": [{"to": "::/0", "via": "2001:db8:60::1"}]
      },
      "eth2": {"match": {"macaddress": "52:54:00:00:00:61"}, "set-name": "eth2", "dhcp4": true}
    }
  })");
  EXPECT_EQ(parse_yaml(render_network_config(static_nics())), expected);
  // An all-digit MAC stays a string (YAML 1.1 reads 12:34:56 as a base-60 integer).
  EXPECT_EQ(parse_yaml(render_network_config(
                {{.mac = "12:34:56:12:34:56"}}))["ethernets"]["eth0"]["match"]["macaddress"],
            "12:34:56:12:34:56");
  EXPECT_EQ(parse_yaml(render_network_config({})), (nlohmann::json{{"version", 2}}));
  EXPECT_THROW(render_network_config({{.mac = ""}}), std::invalid_argument);
}

TEST(CloudInit, UserDataPassesThroughUntouched) {
  const std::string script = "#!/bin/sh\necho 'hi' > /tmp/x\n";
  EXPECT_EQ(render_user_data(script), script);
  const std::string binary("\x1f\x8b\x08\x00\xff\x00\r\n", 8);  // gzip-compressed user-data is allowed
  EXPECT_EQ(render_user_data(binary), binary);
  EXPECT_EQ(render_user_data(std::nullopt), "#cloud-config\n{}\n");
  EXPECT_EQ(parse_yaml(render_user_data(std::nullopt)), nlohmann::json::object());
}

TEST(CloudInit, YamlQuote) {
  EXPECT_EQ(yaml_quote("plain"), "\"plain\"");
  EXPECT_EQ(yaml_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(yaml_quote(std::string("\n\x01\x7f", 3)), "\"\\x0a\\x01\\x7f\"");
  EXPECT_EQ(yaml_quote("héllo"), "\"héllo\"");
}

// The volume id at offset 40 of the primary volume descriptor (sector 16) of an ISO 9660 image.
std::string iso_volume_id(const std::filesystem::path& iso) {
  std::ifstream in(iso, std::ios::binary);
  std::string descriptor(2048, '\0');
  in.seekg(16 * 2048);
  in.read(descriptor.data(), static_cast<std::streamsize>(descriptor.size()));
  if (!in || descriptor[0] != 1 || descriptor.substr(1, 5) != "CD001")
    return "<no primary volume descriptor>";
  auto id = descriptor.substr(40, 32);
  id.erase(id.find_last_not_of(' ') + 1);
  return id;
}

SeedDocuments sample_documents() {
  return {.meta_data = render_meta_data("i-seed", "seeded"),
          .user_data = "#cloud-config\nruncmd:\n  - echo seeded\n",
          .network_config = render_network_config(static_nics())};
}

TEST(SeedIso, BuildsACidataImage) {
  test::ScratchDir dir;
  const auto documents = sample_documents();
  write_seed_directory(dir.path() / "seed", documents);
  const auto iso = dir.path() / "seed.iso";
  const auto error = build_seed_iso(dir.path() / "seed", iso);
  ASSERT_FALSE(error) << error->message;
  EXPECT_EQ(iso_volume_id(iso), "cidata");

  // Rock Ridge names and contents as cloud-init will read them.
  ASSERT_TRUE(find_program("isoinfo")) << "isoinfo missing: apt-get install genisoimage";
  const auto listing = run_command({"isoinfo", "-R", "-f", "-i", iso.string()});
  ASSERT_TRUE(listing.succeeded()) << listing.output;
  EXPECT_EQ(listing.output, "/meta-data\n/network-config\n/user-data\n");
  for (const auto& [name, contents] :
       {std::pair{"meta-data", documents.meta_data}, std::pair{"user-data", documents.user_data},
        std::pair{"network-config", documents.network_config}}) {
    const auto extracted = run_command({"isoinfo", "-R", "-i", iso.string(), "-x", std::string("/") + name});
    EXPECT_EQ(extracted.output, contents) << name;
  }
}

TEST(SeedIso, NetworkConfigIsOptional) {
  test::ScratchDir dir;
  test::spit(dir.path() / "meta-data", render_meta_data("i-1", "h"));
  test::spit(dir.path() / "user-data", render_user_data(std::nullopt));
  const auto error = build_seed_iso(dir.path(), dir.path() / "seed.iso");
  ASSERT_FALSE(error) << error->message;
  EXPECT_EQ(iso_volume_id(dir.path() / "seed.iso"), "cidata");
}

TEST(SeedIso, MissingDocumentIsAClearError) {
  test::ScratchDir dir;
  test::spit(dir.path() / "user-data", "#cloud-config\n");
  const auto error = build_seed_iso(dir.path(), dir.path() / "seed.iso");
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("no meta-data"), std::string::npos) << error->message;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "seed.iso"));
}

TEST(SeedIso, GenisoimageFailureIsReportedWithItsMessage) {
  test::ScratchDir dir;
  write_seed_directory(dir.path(), sample_documents());
  const auto error = build_seed_iso(dir.path(), dir.path() / "no/such/dir/seed.iso");
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("genisoimage exited with status"), std::string::npos) << error->message;
  EXPECT_NE(error->message.find("no/such/dir/seed.iso"), std::string::npos) << error->message;
}

TEST(SeedIso, MissingGenisoimageIsAClearError) {
  test::ScratchDir dir;
  write_seed_directory(dir.path(), sample_documents());
  const std::string saved = std::getenv("PATH");
  ::setenv("PATH", dir.path().c_str(), 1);
  const auto error = build_seed_iso(dir.path(), dir.path() / "seed.iso");
  ::setenv("PATH", saved.c_str(), 1);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("cannot run genisoimage"), std::string::npos) << error->message;
}

TEST(Command, RunsWithoutAShell) {
  const auto result = run_command({"printf", "%s|", "$(echo no)", "a b", "*"});
  ASSERT_TRUE(result.succeeded()) << result.describe();
  EXPECT_EQ(result.output, "$(echo no)|a b|*|");
}

TEST(Command, ReportsExitStatusSignalAndOutput) {
  const auto failed = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_FALSE(failed.succeeded());
  EXPECT_TRUE(failed.exited);
  EXPECT_EQ(failed.exit_status, 3);
  EXPECT_EQ(failed.output, "out\nerr\n");
  EXPECT_EQ(failed.describe(), "exited with status 3");

  const auto killed = run_command({"sh", "-c", "kill -9 $$"});
  EXPECT_FALSE(killed.exited);
  EXPECT_EQ(killed.signal, 9);
  EXPECT_EQ(killed.describe(), "killed by signal 9");
}

TEST(Command, WorkingDirectoryAndStdin) {
  test::ScratchDir dir;
  const auto pwd = run_command({"pwd", "-P"}, dir.path());
  EXPECT_EQ(pwd.output, std::filesystem::canonical(dir.path()).string() + "\n");
  // stdin is /dev/null: cat ends at once instead of waiting on the test's terminal.
  EXPECT_EQ(run_command({"cat"}).output, "");
}

TEST(Command, ProgramThatCannotStartThrows) {
  try {
    run_command({"harmony-no-such-program"});
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
  }
  test::ScratchDir dir;
  test::spit(dir.path() / "not-executable", "#!/bin/sh\n");
  EXPECT_THROW(run_command({(dir.path() / "not-executable").string()}), std::system_error);
  EXPECT_THROW(run_command({"true"}, dir.path() / "missing-dir"), std::system_error);
}

}  // namespace
}  // namespace harmony::twilight
