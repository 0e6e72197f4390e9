// The placement engine at scale (run through `scripts/bench placement`, which starts a
// throwaway PostgreSQL and passes --conninfo): 10,000 hosts with mixed traits, anti-affinity
// groups, a reserve of K=2 hosts, 1,000,000 instances placed one by one in memory (decisions per
// second, p50/p99 latency, RSS), then the placements committed to PostgreSQL in batches through
// the real schema and its allocation guard (committed placements per second).
// Options: --hosts N --instances M --reserve K --commit C (instances committed, default all)
// --batch B (rows per transaction, 1000) --conninfo S (no commit phase without it) --seed S
// --compare-copy 1 (also time the plans on a copy of the engine, as they ran before: doubles the
// peak RSS).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "common/pg/connection.hpp"
#include "sparkle/placement/engine.hpp"
#include "sparkle/placement/pg_array.hpp"
#include "sparkle/placement/plans.hpp"

using namespace harmony;
using namespace harmony::sparkle::placement;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  int64_t hosts = 10000;
  int64_t instances = 1000000;
  int64_t reserve = 2;
  int64_t commit = -1;
  int64_t batch = 1000;
  std::string conninfo;
  uint64_t seed = 42;
  bool compare_copy = false;  // also time the plans on a copy of the engine (doubles peak RSS)
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--hosts")
      o.hosts = std::stoll(value);
    else if (key == "--instances")
      o.instances = std::stoll(value);
    else if (key == "--reserve")
      o.reserve = std::stoll(value);
    else if (key == "--commit")
      o.commit = std::stoll(value);
    else if (key == "--batch")
      o.batch = std::stoll(value);
    else if (key == "--conninfo")
      o.conninfo = value;
    else if (key == "--seed")
      o.seed = std::stoull(value);
    else if (key == "--compare-copy")
      o.compare_copy = value == "1";
    else
      throw std::runtime_error("unknown option " + key);
  }
  if (o.commit < 0) o.commit = o.instances;
  return o;
}

std::string uuid(unsigned prefix, uint64_t n) {
  char text[64];
  std::snprintf(text, sizeof text, "%08x-0000-4000-8000-%012llx", prefix, static_cast<unsigned long long>(n));
  return text;
}

int64_t rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) / 1024;
  }
  return 0;
}

struct Flavor {
  int64_t vcpus, ram_mib, disk_gib, weight;
};
constexpr Flavor kFlavors[] = {
    {1, 1024, 10, 25}, {1, 2048, 20, 20}, {2, 4096, 40, 25}, {4, 8192, 80, 20}, {8, 16384, 160, 10}};

struct Cloud {
  std::vector<HostSpec> hosts;
  std::vector<GroupSpec> groups;
};

Cloud make_cloud(const Options& o, std::mt19937_64& rng) {
  Cloud c;
  std::uniform_real_distribution<double> u(0, 1);
  for (int64_t i = 0; i < o.hosts; ++i) {
    bool big = u(rng) < 0.5;
    HostSpec h{.id = uuid(0x10000000, static_cast<uint64_t>(i)), .name = "host-" + std::to_string(i)};
    h.capacity = effective_capacity(big ? 128 : 64, 4.0, 0, big ? 1048576 : 524288, 1.0, 0, int64_t{1} << 40);
    if (u(rng) < 0.5) h.traits.push_back("ssd");
    if (u(rng) < 0.05) h.traits.push_back("fc");
    if (u(rng) < 0.02) h.traits.push_back("gpu");
    if (u(rng) < 0.10) h.traits.push_back("nvme");
    std::sort(h.traits.begin(), h.traits.end());
    h.cpu_load_pct = u(rng) * 60;
    c.hosts.push_back(std::move(h));
  }
  int64_t groups = std::max<int64_t>(o.instances / 50, 1);
  for (int64_t g = 0; g < groups; ++g) {
    GroupSpec spec{.id = uuid(0x20000000, static_cast<uint64_t>(g)), .name = "group-" + std::to_string(g)};
    spec.strength = g % 10 == 0 ? GroupStrength::soft : GroupStrength::hard;
    spec.max_per_host = g % 4 == 0 ? 2 : 1;
    c.groups.push_back(spec);
  }
  return c;
}

Request make_request(int64_t n, const Cloud& c, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  int64_t total = 0;
  for (const auto& f : kFlavors) total += f.weight;
  int64_t pick = static_cast<int64_t>(u(rng) * static_cast<double>(total));
  const Flavor* flavor = &kFlavors[0];
  for (const auto& f : kFlavors) {
    if (pick < f.weight) {
      flavor = &f;
      break;
    }
    pick -= f.weight;
  }
  Request r{.instance_id = uuid(0x30000000, static_cast<uint64_t>(n)),
            .size = {flavor->vcpus, flavor->ram_mib, flavor->disk_gib}};
  double t = u(rng);
  if (t < 0.05)
    r.required_traits = {"ssd"};
  else if (t < 0.06)
    r.required_traits = {"fc"};
  else if (t < 0.065)
    r.required_traits = {"gpu"};
  else if (t < 0.085)
    r.forbidden_traits = {"gpu"};
  if (u(rng) < 0.2) {
    r.group_id = c.groups[static_cast<size_t>(u(rng) * static_cast<double>(c.groups.size()))].id;
  }
  return r;
}

std::string json_spec(const Request& r) {
  std::string s = "{\"vcpus\":" + std::to_string(r.size.vcpus) +
                  ",\"ram_mib\":" + std::to_string(r.size.ram_mib) +
                  ",\"disk_gib\":" + std::to_string(r.size.disk_gib) + ",\"power_state\":\"running\"";
  auto list = [&](const char* key, const std::vector<std::string>& v) {
    if (v.empty()) return;
    s += std::string(",\"") + key + "\":[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ",\"" : "\"") + v[i] + "\"";
    s += "]";
  };
  list("required_traits", r.required_traits);
  list("forbidden_traits", r.forbidden_traits);
  return s + "}";
}

// CPU time of this thread: on a shared machine wall-clock latency also counts the time the
// scheduler gave to other processes; this does not.
int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double percentile(std::vector<uint32_t>& ns, double p) {
  if (ns.empty()) return 0;
  auto k = static_cast<size_t>(p * static_cast<double>(ns.size() - 1));
  std::nth_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(k), ns.end());
  return ns[k] / 1000.0;
}

// Writes hosts, groups and a tenant straight in SQL, then the placed instances in batches, each
// batch one transaction through the allocation guard trigger.
double commit_phase(const Options& o, const Cloud& c,
                    const std::vector<std::pair<Request, std::string>>& placed) {
  pg::Connection conn(o.conninfo);
  conn.exec("SET synchronous_commit = on");
  auto tenant = std::string(conn.exec("INSERT INTO tenants (name) VALUES ('bench') RETURNING id").text(0, 0));
  for (size_t from = 0; from < c.hosts.size(); from += 1000) {
    std::vector<std::string> ids, names, hardware, traits;
    for (size_t i = from; i < std::min(c.hosts.size(), from + 1000); ++i) {
      const auto& h = c.hosts[i];
      ids.push_back(h.id);
      names.push_back(h.name);
      hardware.push_back("{\"cpu\":{\"threads\":" + std::to_string(h.capacity.vcpus / 4) +
                         "},\"memory_mib\":" + std::to_string(h.capacity.ram_mib) + "}");
      traits.push_back(sparkle::to_pg_array(h.traits));
    }
    conn.query(
        "INSERT INTO hosts (id, name, hardware, state, traits) SELECT i, n, h::jsonb, 'online', t::text[]"
        " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS u(i, n, h, t)",
        sparkle::to_pg_array(ids), sparkle::to_pg_array(names), sparkle::to_pg_array(hardware),
        sparkle::to_pg_array(traits));
  }
  for (size_t from = 0; from < c.groups.size(); from += 5000) {
    std::vector<std::string> ids, names, specs;
    for (size_t i = from; i < std::min(c.groups.size(), from + 5000); ++i) {
      const auto& g = c.groups[i];
      ids.push_back(g.id);
      names.push_back(g.name);
      specs.push_back(std::string("{\"policy\":\"anti-affinity\",\"strength\":\"") +
                      (g.strength == GroupStrength::hard ? "hard" : "soft") +
                      "\",\"max_per_host\":" + std::to_string(g.max_per_host) + "}");
    }
    conn.query(
        "INSERT INTO affinity_groups (id, tenant_id, name, spec) SELECT i, $4, n, s::jsonb"
        " FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(i, n, s)",
        sparkle::to_pg_array(ids), sparkle::to_pg_array(names), sparkle::to_pg_array(specs), tenant);
  }
  auto n = static_cast<size_t>(std::min<int64_t>(o.commit, static_cast<int64_t>(placed.size())));
  auto start = Clock::now();
  for (size_t from = 0; from < n; from += static_cast<size_t>(o.batch)) {
    std::vector<std::string> ids, specs, hosts;
    std::vector<std::string> groups;
    for (size_t i = from; i < std::min(n, from + static_cast<size_t>(o.batch)); ++i) {
      const auto& [r, host] = placed[i];
      ids.push_back(r.instance_id);
      specs.push_back(json_spec(r));
      hosts.push_back(host);
      groups.push_back(r.group_id.value_or(""));
    }
    conn.exec("BEGIN");
    conn.query(
        "INSERT INTO instances (id, tenant_id, name, spec, host_id, affinity_group_id)"
        " SELECT i, $5, 'vm', s::jsonb, h, nullif(g, '')::uuid"
        " FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[]) AS u(i, s, h, g)",
        sparkle::to_pg_array(ids), sparkle::to_pg_array(specs), sparkle::to_pg_array(hosts),
        sparkle::to_pg_array(groups), tenant);
    conn.exec("COMMIT");
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cerr << "committed " << n << " placements in " << seconds << " s (batches of " << o.batch << ")\n";
  return static_cast<double>(n) / seconds;
}

// CPU milliseconds of this thread since `start_ns` (thread_cpu_ns()): what a plan costs, whatever
// share of a core the machine gave the benchmark.
double ms_since(int64_t start_ns) {
  return static_cast<double>(thread_cpu_ns() - start_ns) / 1e6;
}

// The operator's read-only views at the cloud's full size: what one request to
// GET /hosts/{id}/evacuation-plan, /placement/rebalance and /placement/headroom costs, on the
// engine itself (what the routes do) and, for comparison, on a copy of it.
void time_plans(Engine& engine, const Cloud& cloud, bool compare_copy) {
  const auto& busiest =
      *std::max_element(cloud.hosts.begin(), cloud.hosts.end(), [&](const auto& a, const auto& b) {
        return engine.host(a.id)->instances < engine.host(b.id)->instances;
      });
  auto t0 = thread_cpu_ns();
  auto evacuation = plan_evacuation_in_place(engine, busiest.id);
  double evacuation_ms = ms_since(t0);
  t0 = thread_cpu_ns();
  auto rebalance = plan_rebalance_in_place(engine, 10);
  double rebalance_ms = ms_since(t0);
  t0 = thread_cpu_ns();
  auto headroom = engine.headroom();
  auto traits = trait_room(engine);
  double headroom_ms = ms_since(t0);
  std::string copies;
  if (compare_copy) {
    t0 = thread_cpu_ns();
    plan_evacuation(engine, busiest.id);
    double evacuation_copy_ms = ms_since(t0);
    t0 = thread_cpu_ns();
    plan_rebalance(engine, 10);
    copies = "; on a copy: evacuation " + std::to_string(evacuation_copy_ms) + " ms, rebalance " +
             std::to_string(ms_since(t0)) + " ms";
  }
  std::cout << "plans (CPU time): evacuation of a host with " << engine.host(busiest.id)->instances
            << " instances " << evacuation_ms << " ms (" << evacuation.moves.size() << " moves, "
            << (evacuation.feasible ? "feasible" : "not feasible") << "); rebalance, 10 moves at most, "
            << rebalance_ms << " ms (" << rebalance.moves.size() << " moves); headroom " << headroom_ms
            << " ms (" << headroom.classes.size() << " classes, " << traits.size() << " traits)" << copies
            << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  try {
    auto o = parse(argc, argv);
    std::mt19937_64 rng(o.seed);
    auto cloud = make_cloud(o, rng);
    Config config;
    config.reserve_hosts = o.reserve;
    Engine engine(config);
    for (const auto& h : cloud.hosts) engine.upsert_host(h);
    for (const auto& g : cloud.groups) engine.upsert_group(g);

    std::vector<uint32_t> latency_ns, cpu_ns;
    latency_ns.reserve(static_cast<size_t>(o.instances));
    cpu_ns.reserve(static_cast<size_t>(o.instances));
    std::vector<std::pair<Request, std::string>> placed;
    placed.reserve(static_cast<size_t>(o.instances));
    int64_t refused = 0, refused_reserve = 0;
    auto start = Clock::now();
    for (int64_t n = 0; n < o.instances; ++n) {
      auto request = make_request(n, cloud, rng);
      auto c0 = thread_cpu_ns();
      auto t0 = Clock::now();
      auto d = engine.place(request);
      auto t1 = Clock::now();
      cpu_ns.push_back(static_cast<uint32_t>(thread_cpu_ns() - c0));
      latency_ns.push_back(
          static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
      if (d.host_id) {
        placed.emplace_back(std::move(request), *d.host_id);
      } else {
        ++refused;
        if (!d.explanation.steps.empty() && d.explanation.steps.back().filter == "reserve") ++refused_reserve;
      }
      if ((n + 1) % 200000 == 0) {
        std::cerr << "placed " << (n + 1) << " (" << refused << " refused)\n";
      }
    }
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    double decisions_per_s = static_cast<double>(o.instances) / seconds;
    double p50 = percentile(latency_ns, 0.50), p99 = percentile(latency_ns, 0.99);
    double p999 = percentile(latency_ns, 0.999);
    int64_t cpu_total = 0;
    for (auto ns : cpu_ns) cpu_total += ns;
    double cpu_p50 = percentile(cpu_ns, 0.50), cpu_p99 = percentile(cpu_ns, 0.99);
    std::cout << "CPU time per decision: p50 " << cpu_p50 << " us, p99 " << cpu_p99 << " us; "
              << static_cast<int64_t>(static_cast<double>(o.instances) /
                                      (static_cast<double>(cpu_total) / 1e9))
              << " decisions per CPU-second\n";
    auto headroom = engine.headroom();
    int64_t rss = rss_mib();
    std::cout << "in memory: " << o.instances << " decisions in " << seconds
              << " s = " << static_cast<int64_t>(decisions_per_s) << " decisions/s; p50 " << p50
              << " us, p99 " << p99 << " us, p99.9 " << p999 << " us; placed " << placed.size()
              << ", refused " << refused << " (" << refused_reserve
              << " by the reserve); reserve holds: " << (engine.reserve_holds() ? "yes" : "no")
              << ", tolerated host failures " << headroom.tolerated_failures << "; peak RSS " << rss
              << " MiB\n";

    time_plans(engine, cloud, o.compare_copy);

    double committed_per_s = 0;
    if (!o.conninfo.empty()) {
      latency_ns = {};
      committed_per_s = commit_phase(o, cloud, placed);
      std::cout << "committed to PostgreSQL: " << static_cast<int64_t>(committed_per_s) << " placements/s\n";
    }
    std::cout << "placement: hosts=" << o.hosts << " instances=" << o.instances
              << " committed_per_s=" << static_cast<int64_t>(committed_per_s) << " decision_p99_us=" << p99
              << " rss_mb=" << rss << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "placement_bench: " << e.what() << "\n";
    return 1;
  }
}
