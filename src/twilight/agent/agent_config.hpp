#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/config_file.hpp"

namespace harmony::twilight {

// /etc/twilight/twilight.conf (packaging/etc/twilight/twilight.conf documents every key).
struct AgentConfig {
  std::string host_id;  // empty: generated once and kept in the state directory
  std::filesystem::path state_dir = "/var/lib/twilight";
  std::string controller = "tcp://127.0.0.1:5555";
  std::string server_public_key;  // Z85; may come from server_public_key_file or bootstrap.json
  std::string server_public_key_file;
  std::string libvirt_uri = "qemu:///system";
  // "libvirt", or "memory": the in-memory hypervisor (tests and benchmarks), kept in
  // <state_dir>/memory-hypervisor.json.
  std::string hypervisor = "libvirt";
  // "pool": disks and volumes in a libvirt dir pool on libvirt_uri; "files": plain files under
  // the state directory (qemu-img); "none": paths only, nothing made (test drivers, benchmarks).
  std::string storage = "pool";
  // [storage]: the libvirt pool (defined, built, started and autostarted when missing).
  std::string pool_name = "harmony";
  std::filesystem::path pool_path;  // empty: <state_dir>/pool
  // Shared storage backends this host reaches besides its own pool (e.g. "ceph"), for placement.
  std::vector<std::string> storage_backends;
  std::chrono::seconds heartbeat_interval{2};
  std::chrono::seconds recheck_interval{30};
  std::chrono::seconds shutdown_timeout{60};
  std::filesystem::path hardware_root = "/";
  // false: never offer kvm, even where /dev/kvm answers (a nested or paravirtual /dev/kvm on which
  // guests hang); instances then run under TCG emulation (domain type qemu).
  bool kvm = true;
  // [migration]: the libvirt URI peers' libvirt opens to send this host running domains
  // (empty: qemu+tcp://<host name>/system), and where their memory and disk streams go, e.g.
  // "tcp://10.1.0.2" on a migration network (empty: the host name of that URI).
  std::string migration_uri;
  std::string migration_data_uri;
  // [metrics]: "host:port" of a collectd server's network plugin; empty: no metrics sent there.
  std::string collectd;
  std::chrono::seconds metrics_interval{10};
  std::string log_level = "info";
  std::string log_file;

  // Throws ConfigError naming the key.
  static AgentConfig from(const ConfigFile& file);
};

// The server key from server_public_key, else from server_public_key_file (a bare Z85 key, or a
// key-pair file whose "public=" line is used), else empty. Throws ConfigError for a file that
// cannot be read or holds no key.
std::string configured_server_key(const AgentConfig& config);

}  // namespace harmony::twilight
