#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/pg/connection.hpp"
#include "common/pg/pool.hpp"
#include "common/proto/provisioning_events.hpp"

namespace harmony::sparkle {

// Records what a Luna's dnsmasq reported, checking the epoch, in one transaction: each event is
// matched to the host it concerns among those the Luna serves (a lease by MAC, a TFTP transfer by
// address); leases given or released and files sent become events (the event stream shows them
// live; renewals, every half lease time for every host, only update the host's last lease), and
// each host's last lease and last boot request are kept (host_boot_activity). Events of no host
// of this Luna's are recorded against the Luna itself.
void ingest_provisioning_events(pg::Pool& db, int64_t epoch, const std::string& luna_id,
                                const proto::ProvisioningEvents& batch);

// The host's last lease and last boot request as the API shows them: {"last_lease": ... or null,
// "last_boot": ... or null}.
nlohmann::json read_boot_activity(pg::Connection& conn, const std::string& host_id);

}  // namespace harmony::sparkle
