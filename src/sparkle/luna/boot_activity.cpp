#include "sparkle/luna/boot_activity.hpp"

#include <spdlog/spdlog.h>

#include "sparkle/leadership/leadership.hpp"

namespace harmony::sparkle {
namespace {

// The batch as rows (n: its order), each with the host it concerns among the Luna's ($1).
constexpr const char* kMatched =
    "WITH e AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(n int, kind text, ip text, mac text,"
    " hostname text, expires_at timestamptz, file text, bytes bigint, at timestamptz)),"
    " m AS (SELECT e.*, (SELECT p.host_id FROM host_provisioning p WHERE p.luna_id = $1::uuid AND"
    " CASE WHEN e.kind = 'tftp_sent' THEN p.ip = e.ip::inet ELSE e.mac = ANY (p.macs) END"
    " ORDER BY p.host_id LIMIT 1) AS host_id FROM e) ";

}  // namespace

void ingest_provisioning_events(pg::Pool& db, int64_t epoch, const std::string& luna_id,
                                const proto::ProvisioningEvents& batch) {
  if (batch.dropped > 0) {
    spdlog::warn("luna {} dropped {} DHCP/TFTP events before they reached this controller", luna_id,
                 batch.dropped);
  }
  if (batch.events.empty()) return;
  nlohmann::json rows = nlohmann::json::array();
  for (size_t i = 0; i < batch.events.size(); ++i) {
    nlohmann::json row = batch.events[i];
    row["n"] = i;
    rows.push_back(std::move(row));
  }
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    conn.query(std::string(kMatched) +
                   "INSERT INTO events (resource_type, resource_id, host_id, kind, detail)"
                   " SELECT CASE WHEN host_id IS NULL THEN 'luna_service' ELSE 'host' END,"
                   " coalesce(host_id, $1::uuid), host_id,"
                   " CASE kind WHEN 'tftp_sent' THEN 'boot_file_sent' ELSE 'dhcp_' || kind END,"
                   " jsonb_strip_nulls(jsonb_build_object('luna_id', $1::text, 'ip', ip, 'mac', mac,"
                   " 'hostname', hostname, 'expires_at', api_time(expires_at), 'file', file, 'bytes', bytes,"
                   " 'observed_at', api_time(at)))"
                   " FROM m WHERE kind <> 'lease_renewed' ORDER BY n",
               luna_id, rows);
    conn.query(
        std::string(kMatched) +
            "INSERT INTO host_boot_activity (host_id, luna_id, lease_state, lease_mac, lease_ip,"
            " lease_hostname, lease_expires_at, lease_at)"
            " SELECT DISTINCT ON (host_id) host_id, $1::uuid,"
            " CASE kind WHEN 'lease_released' THEN 'released' ELSE 'active' END, mac, ip::inet, hostname,"
            " CASE kind WHEN 'lease_released' THEN NULL ELSE expires_at END, at"
            " FROM m WHERE host_id IS NOT NULL AND kind <> 'tftp_sent' ORDER BY host_id, n DESC"
            " ON CONFLICT (host_id) DO UPDATE SET luna_id = EXCLUDED.luna_id, lease_state ="
            " EXCLUDED.lease_state, lease_mac = EXCLUDED.lease_mac, lease_ip = EXCLUDED.lease_ip,"
            " lease_hostname = EXCLUDED.lease_hostname, lease_expires_at = EXCLUDED.lease_expires_at,"
            " lease_at = EXCLUDED.lease_at",
        luna_id, rows);
    conn.query(
        std::string(kMatched) +
            "INSERT INTO host_boot_activity (host_id, luna_id, boot_file, boot_ip, boot_bytes, boot_at)"
            " SELECT DISTINCT ON (host_id) host_id, $1::uuid, file, ip::inet, bytes, at"
            " FROM m WHERE host_id IS NOT NULL AND kind = 'tftp_sent' ORDER BY host_id, n DESC"
            " ON CONFLICT (host_id) DO UPDATE SET luna_id = EXCLUDED.luna_id, boot_file ="
            " EXCLUDED.boot_file, boot_ip = EXCLUDED.boot_ip, boot_bytes = EXCLUDED.boot_bytes,"
            " boot_at = EXCLUDED.boot_at",
        luna_id, rows);
  });
}

nlohmann::json read_boot_activity(pg::Connection& conn, const std::string& host_id) {
  auto row = conn.query(
      "SELECT lease_state, lease_mac, host(lease_ip), lease_hostname, api_time(lease_expires_at),"
      " api_time(lease_at), boot_file, host(boot_ip), boot_bytes, api_time(boot_at), luna_id"
      " FROM host_boot_activity WHERE host_id = $1",
      host_id);
  nlohmann::json out = {{"last_lease", nullptr}, {"last_boot", nullptr}};
  if (row.empty()) return out;
  auto text = [&](int column) -> nlohmann::json {
    auto value = row.optional_text(0, column);
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  };
  if (row.optional_text(0, 0)) {
    out["last_lease"] = {{"state", text(0)},    {"mac", text(1)},        {"ip", text(2)},
                         {"hostname", text(3)}, {"expires_at", text(4)}, {"at", text(5)},
                         {"luna_id", text(10)}};
  }
  if (row.optional_text(0, 6)) {
    auto bytes = row.optional_text(0, 8);
    out["last_boot"] = {
        {"file", text(6)},
        {"ip", text(7)},
        {"bytes", bytes ? nlohmann::json(std::stoll(std::string(*bytes))) : nlohmann::json(nullptr)},
        {"at", text(9)},
        {"luna_id", text(10)}};
  }
  return out;
}

}  // namespace harmony::sparkle
