// choice_quality: how good the chosen TURN server is, and how long choosing it takes, in a
// simulated world (tests/sim: simulated time, real ServerCore and client Prober cores).
//
//   choice_quality [--seed N] [--clients N] [--loss P] [--shape global|continental|both]
//
// About 40 regions at real city coordinates on every continent, 1 to 4 leaves each (some
// overloaded), and client locations at real city coordinates. One-way delay between a
// client and a server: great-circle distance / 200 km/ms (light in fibre), times a path
// inflation drawn per pair in [1.2, 3.0], plus the client's access delay (2 to 25 ms), plus
// up to 0.5 ms of jitter; 3 % of pairs take a detour of 20 to 80 ms more, which breaks the
// triangle inequality as real paths do. Two shapes: one global root (in Frankfurt) over
// every region, or a root per continent over that continent's regions (the client is
// given every root).
//
// For every client the optimal leaf is the one with the lowest round trip among those with
// room (under the 0.9 overload limit). Each method's choice is compared with it:
//   greedy       the walk level by level (DiscoverOptions::speculate = false);
//   speculative  speculative descent (the default);
//   warm         a second discovery by the speculative client (its last good path first);
//   geo-dns      the leaf nearest by coordinates, whatever its load or measured RTT;
//   random       a leaf with room, uniformly.
// Prints one table per shape: the share of clients within 10 % and within 5 ms of their
// optimal RTT, mean and p95 excess RTT, discovery time p50/p99 in round trips and in ms,
// the time over the bare round trips waited for, and probes per discovery.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "base/endpoint.hpp"
#include "base/random.hpp"
#include "client/core/prober.hpp"
#include "server/core/events.hpp"
#include "server/core/server_core.hpp"
#include "tests/sim/sim_network.hpp"

namespace {

using namespace turnscout;
using namespace std::chrono_literals;

struct City {
  const char* name;
  const char* continent;
  double lat;
  double lon;
};

// Regions first (40), then other client locations. Coordinates to a tenth of a degree.
constexpr City kCities[] = {
    // Europe
    {"Frankfurt", "EU", 50.1, 8.7},
    {"London", "EU", 51.5, -0.1},
    {"Paris", "EU", 48.9, 2.4},
    {"Amsterdam", "EU", 52.4, 4.9},
    {"Stockholm", "EU", 59.3, 18.1},
    {"Madrid", "EU", 40.4, -3.7},
    {"Milan", "EU", 45.5, 9.2},
    {"Warsaw", "EU", 52.2, 21.0},
    // North America
    {"Ashburn", "NA", 39.0, -77.5},
    {"New York", "NA", 40.7, -74.0},
    {"Chicago", "NA", 41.9, -87.6},
    {"Dallas", "NA", 32.8, -96.8},
    {"Los Angeles", "NA", 34.1, -118.2},
    {"Seattle", "NA", 47.6, -122.3},
    {"Toronto", "NA", 43.7, -79.4},
    {"Mexico City", "NA", 19.4, -99.1},
    // South America
    {"Sao Paulo", "SA", -23.6, -46.6},
    {"Buenos Aires", "SA", -34.6, -58.4},
    {"Santiago", "SA", -33.4, -70.7},
    {"Bogota", "SA", 4.7, -74.1},
    {"Lima", "SA", -12.0, -77.0},
    // Asia
    {"Tokyo", "AS", 35.7, 139.7},
    {"Seoul", "AS", 37.6, 127.0},
    {"Hong Kong", "AS", 22.3, 114.2},
    {"Singapore", "AS", 1.4, 103.8},
    {"Mumbai", "AS", 19.1, 72.9},
    {"Chennai", "AS", 13.1, 80.3},
    {"Dubai", "AS", 25.2, 55.3},
    {"Jakarta", "AS", -6.2, 106.8},
    {"Taipei", "AS", 25.0, 121.6},
    // Oceania
    {"Sydney", "OC", -33.9, 151.2},
    {"Melbourne", "OC", -37.8, 145.0},
    {"Auckland", "OC", -36.8, 174.8},
    {"Perth", "OC", -32.0, 115.9},
    // Africa
    {"Johannesburg", "AF", -26.2, 28.0},
    {"Cape Town", "AF", -33.9, 18.4},
    {"Lagos", "AF", 6.5, 3.4},
    {"Nairobi", "AF", -1.3, 36.8},
    {"Cairo", "AF", 30.0, 31.2},
    {"Casablanca", "AF", 33.6, -7.6},
    // Client locations only.
    {"Dublin", "EU", 53.3, -6.3},
    {"Lisbon", "EU", 38.7, -9.1},
    {"Rome", "EU", 41.9, 12.5},
    {"Vienna", "EU", 48.2, 16.4},
    {"Prague", "EU", 50.1, 14.4},
    {"Berlin", "EU", 52.5, 13.4},
    {"Copenhagen", "EU", 55.7, 12.6},
    {"Oslo", "EU", 59.9, 10.8},
    {"Helsinki", "EU", 60.2, 24.9},
    {"Athens", "EU", 38.0, 23.7},
    {"Istanbul", "EU", 41.0, 29.0},
    {"Kyiv", "EU", 50.5, 30.5},
    {"Bucharest", "EU", 44.4, 26.1},
    {"Zurich", "EU", 47.4, 8.5},
    {"Barcelona", "EU", 41.4, 2.2},
    {"Manchester", "EU", 53.5, -2.2},
    {"Edinburgh", "EU", 56.0, -3.2},
    {"Reykjavik", "EU", 64.1, -21.9},
    {"Moscow", "EU", 55.8, 37.6},
    {"Boston", "NA", 42.4, -71.1},
    {"Miami", "NA", 25.8, -80.2},
    {"Atlanta", "NA", 33.7, -84.4},
    {"Denver", "NA", 39.7, -105.0},
    {"Phoenix", "NA", 33.4, -112.1},
    {"San Francisco", "NA", 37.8, -122.4},
    {"Vancouver", "NA", 49.3, -123.1},
    {"Montreal", "NA", 45.5, -73.6},
    {"Minneapolis", "NA", 45.0, -93.3},
    {"Houston", "NA", 29.8, -95.4},
    {"Calgary", "NA", 51.0, -114.1},
    {"Anchorage", "NA", 61.2, -149.9},
    {"Honolulu", "NA", 21.3, -157.9},
    {"Guatemala City", "NA", 14.6, -90.5},
    {"Panama City", "NA", 9.0, -79.5},
    {"Havana", "NA", 23.1, -82.4},
    {"Rio de Janeiro", "SA", -22.9, -43.2},
    {"Caracas", "SA", 10.5, -66.9},
    {"Quito", "SA", -0.2, -78.5},
    {"Montevideo", "SA", -34.9, -56.2},
    {"Recife", "SA", -8.1, -34.9},
    {"Manaus", "SA", -3.1, -60.0},
    {"La Paz", "SA", -16.5, -68.1},
    {"Beijing", "AS", 39.9, 116.4},
    {"Shanghai", "AS", 31.2, 121.5},
    {"Osaka", "AS", 34.7, 135.5},
    {"Manila", "AS", 14.6, 121.0},
    {"Bangkok", "AS", 13.8, 100.5},
    {"Kuala Lumpur", "AS", 3.1, 101.7},
    {"Ho Chi Minh City", "AS", 10.8, 106.7},
    {"Delhi", "AS", 28.6, 77.2},
    {"Bangalore", "AS", 13.0, 77.6},
    {"Karachi", "AS", 24.9, 67.0},
    {"Dhaka", "AS", 23.8, 90.4},
    {"Tehran", "AS", 35.7, 51.4},
    {"Riyadh", "AS", 24.7, 46.7},
    {"Tel Aviv", "AS", 32.1, 34.8},
    {"Almaty", "AS", 43.2, 76.9},
    {"Ulaanbaatar", "AS", 47.9, 106.9},
    {"Brisbane", "OC", -27.5, 153.0},
    {"Adelaide", "OC", -34.9, 138.6},
    {"Wellington", "OC", -41.3, 174.8},
    {"Port Moresby", "OC", -9.4, 147.2},
    {"Suva", "OC", -18.1, 178.4},
    {"Accra", "AF", 5.6, -0.2},
    {"Dakar", "AF", 14.7, -17.4},
    {"Addis Ababa", "AF", 9.0, 38.7},
    {"Kinshasa", "AF", -4.3, 15.3},
    {"Luanda", "AF", -8.8, 13.2},
    {"Dar es Salaam", "AF", -6.8, 39.3},
    {"Algiers", "AF", 36.8, 3.1},
    {"Tunis", "AF", 36.8, 10.2},
    {"Khartoum", "AF", 15.5, 32.5},
    {"Harare", "AF", -17.8, 31.0},
    {"Abidjan", "AF", 5.3, -4.0},
    {"Kampala", "AF", 0.3, 32.6},
};
constexpr size_t kRegions = 40;
constexpr size_t kCityCount = std::size(kCities);

double great_circle_km(const City& a, const City& b) {
  constexpr double kRad = std::numbers::pi / 180.0;
  const double dlat = (b.lat - a.lat) * kRad;
  const double dlon = (b.lon - a.lon) * kRad;
  const double h =
      std::sin(dlat / 2) * std::sin(dlat / 2) +
      std::cos(a.lat * kRad) * std::cos(b.lat * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * 6371.0 * std::asin(std::min(1.0, std::sqrt(h)));
}

// A uniform draw in [0, 1) fixed by the seed and the pair: the same in every method.
double pair_draw(uint64_t seed, uint64_t a, uint64_t b, uint64_t salt) {
  uint64_t z = seed ^ (a * 0x9e3779b97f4a7c15ull) ^ (b * 0xbf58476d1ce4e5b9ull) ^
               (salt * 0x94d049bb133111ebull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) / 9007199254740992.0;
}

struct Server {
  std::string name;
  Endpoint address;
  size_t city = 0;
  uint16_t load = 0;
  bool leaf = false;
};

struct Client {
  size_t city = 0;
  double access_ms = 0;
};

enum class Shape { kGlobal, kContinental };

// A client core and the random source it draws from.
struct ClientNode {
  ClientNode(uint64_t seed, TimePoint now) : random(seed), prober({}, random, now) {}
  SeededRandom random;
  client::Prober prober;
};

const WallTime kWall{std::chrono::milliseconds{1'767'225'600'000}};

// The world: its servers (real cores) on a simulated network, and the delay model.
class World {
 public:
  // `by_city`: a pair's path inflation is drawn per client and city (servers of one city
  // share the path, each within 5 % of it) rather than per client and server.
  World(Shape shape, uint64_t seed, double loss, bool by_city)
      : seed_(seed), by_city_(by_city), net_(seed, TimePoint{}) {
    SeededRandom random(seed);
    net_.set_default_link({.delay = 1ms, .loss = loss});
    loss_ = loss;
    // Roots.
    std::map<std::string, size_t> root_of_continent;
    if (shape == Shape::kGlobal) {
      roots_.push_back(add_server("global", Endpoint::v4(10, 0, 0, 1, 3478), 0, false, 0));
    } else {
      for (size_t i = 0; i < kRegions; ++i) {
        const std::string continent = kCities[i].continent;
        if (root_of_continent.contains(continent)) continue;
        root_of_continent[continent] = add_server(
            "root-" + continent,
            Endpoint::v4(10, 0, 0, static_cast<uint8_t>(1 + root_of_continent.size()), 3478), i,
            false, 0);
        roots_.push_back(root_of_continent[continent]);
      }
    }
    // Regions and leaves.
    for (size_t r = 0; r < kRegions; ++r) {
      const size_t region =
          add_server(std::string(kCities[r].name) + "-region",
                     Endpoint::v4(10, 1, static_cast<uint8_t>(r), 1, 3478), r, false, 0);
      const size_t root =
          shape == Shape::kGlobal ? roots_[0] : root_of_continent.at(kCities[r].continent);
      children_of_[root].push_back(region);
      parent_of_[region] = root;
      const size_t leaves = 1 + random.below(4);
      for (size_t l = 0; l < leaves; ++l) {
        // About one leaf in ten is over the 0.9 overload limit.
        const bool overloaded = random.below(10) == 0;
        const auto load =
            static_cast<uint16_t>(overloaded ? 920 + random.below(70) : 100 + random.below(750));
        const size_t leaf = add_server(
            std::string(kCities[r].name) + "-" + std::to_string(l + 1),
            Endpoint::v4(10, 2, static_cast<uint8_t>(r), static_cast<uint8_t>(l + 1), 3478), r,
            true, load);
        children_of_[region].push_back(leaf);
        parent_of_[leaf] = region;
      }
    }
    // The cores, once every address is known.
    for (size_t i = 0; i < servers_.size(); ++i)
      start_core(i);
    net_.run_for(4s);  // Heartbeats and listings settle (leaves, then regions, then roots).
  }

  const std::vector<Server>& servers() const { return servers_; }
  std::vector<std::string> root_texts() const {
    std::vector<std::string> out;
    for (size_t r : roots_)
      out.push_back(to_string(servers_[r].address));
    return out;
  }

  // The one-way delay between a client and a server, without jitter.
  double one_way_ms(const Client& c, size_t client_id, size_t server) const {
    const Server& s = servers_[server];
    const double km = great_circle_km(kCities[c.city], kCities[s.city]);
    const double inflation = by_city_
                                 ? (1.2 + 1.8 * pair_draw(seed_, client_id, 1000 + s.city, 1)) *
                                       (0.95 + 0.1 * pair_draw(seed_, client_id, server, 5))
                                 : 1.2 + 1.8 * pair_draw(seed_, client_id, server, 1);
    const bool detour = pair_draw(seed_, client_id, server, 2) < 0.03;
    const double extra = detour ? 20 + 60 * pair_draw(seed_, client_id, server, 3) : 0;
    return km / 200.0 * inflation + c.access_ms + extra;
  }

  // A client node at `address` whose links to every server follow the model.
  sim::NodeId add_client(SansIoNode& node, const Endpoint& address, const Client& c,
                         size_t client_id) {
    const sim::NodeId id = net_.add_node(node, {address});
    for (size_t s = 0; s < servers_.size(); ++s) {
      const auto d = std::chrono::duration_cast<Duration>(
          std::chrono::duration<double, std::milli>(one_way_ms(c, client_id, s)));
      net_.set_path(id, node_ids_[s], {.delay = d, .jitter = 500us, .loss = loss_});
    }
    return id;
  }

  sim::SimNetwork& net() { return net_; }

 private:
  size_t add_server(std::string name, Endpoint address, size_t city, bool leaf, uint16_t load) {
    servers_.push_back(Server{std::move(name), address, city, load, leaf});
    return servers_.size() - 1;
  }

  void start_core(size_t i) {
    const Server& s = servers_[i];
    server::ServerConfig c;
    c.name = s.name;
    c.listen = {s.address};
    c.advertise = {s.address};
    if (parent_of_.contains(i)) c.parents.push_back({servers_[parent_of_.at(i)].address});
    for (size_t child : children_of_[i])
      c.children.push_back({servers_[child].name, servers_[child].address, 1});
    if (s.leaf) {
      c.services = {"turn:" + ip_to_string(s.address) + ":3478?transport=udp"};
      c.load.static_permille = s.load;
    }
    c.admission.enabled = false;
    // Signed heartbeats: a parent passes on its children's listings only from those.
    c.cluster.key = "choice quality world key";
    // A root lists every region (as many as fit), each with its best leaves.
    c.listing.strategy = server::Strategy::kLeastLoad;
    c.listing.max_children = 0;
    cores_.push_back(std::make_unique<server::ServerCore>(std::move(c), net_.now(), kWall,
                                                          seed_ + i, server::discard_events()));
    node_ids_.push_back(net_.add_node(*cores_.back(), {s.address}));
  }

  uint64_t seed_;
  bool by_city_ = false;
  double loss_ = 0;
  std::vector<Server> servers_;
  std::vector<size_t> roots_;
  std::map<size_t, std::vector<size_t>> children_of_;
  std::map<size_t, size_t> parent_of_;
  std::vector<std::unique_ptr<server::ServerCore>> cores_;  // Outlive the network.
  std::vector<sim::NodeId> node_ids_;
  sim::SimNetwork net_;
};

struct Sample {
  bool found = false;
  double excess_ms = 0;
  double optimal_ms = 0;
  double chosen_ms = 0;
  std::optional<double> time_ms;
  std::optional<double> own_ms;  // Time over the bare round trips waited for.
  std::optional<uint32_t> round_trips;
  std::optional<uint32_t> probes;
  std::optional<bool> optimal_answered;  // The optimal leaf was probed and answered.
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

void print_row(const std::string& method, const std::vector<Sample>& samples) {
  size_t found = 0, within10 = 0, within5 = 0, answered = 0, asked = 0;
  std::vector<double> excess, times, rounds, probes, own;
  for (const Sample& s : samples) {
    if (!s.found) continue;
    ++found;
    if (s.chosen_ms <= 1.1 * s.optimal_ms + 1e-9) ++within10;
    if (s.excess_ms <= 5.0) ++within5;
    excess.push_back(s.excess_ms);
    if (s.time_ms) times.push_back(*s.time_ms);
    if (s.own_ms) own.push_back(*s.own_ms);
    if (s.round_trips) rounds.push_back(*s.round_trips);
    if (s.probes) probes.push_back(*s.probes);
    if (s.optimal_answered) {
      ++asked;
      answered += *s.optimal_answered;
    }
  }
  double mean = 0;
  for (double e : excess)
    mean += e;
  mean = excess.empty() ? 0 : mean / static_cast<double>(excess.size());
  const double n = static_cast<double>(samples.size());
  const auto pct = [&](size_t k) { return 100.0 * static_cast<double>(k) / n; };
  std::string time_text = "-";
  std::string rounds_text = "-";
  std::string own_text = "-";
  std::string probe_text = "-";
  const std::string reached =
      asked == 0 ? "-" : fmt::format("{:.1f} %", 100.0 * static_cast<double>(answered) / n);
  if (!times.empty()) {
    time_text = fmt::format("{:.0f} / {:.0f}", percentile(times, 0.5), percentile(times, 0.99));
    rounds_text = fmt::format("{:.0f} / {:.0f}", percentile(rounds, 0.5), percentile(rounds, 0.99));
    own_text = fmt::format("{:.2f}", percentile(own, 0.5));
    double sum = 0;
    for (double p : probes)
      sum += p;
    probe_text = fmt::format("{:.1f}", sum / static_cast<double>(probes.size()));
  }
  std::printf(
      "| %-11s | %5.1f %% | %5.1f %% | %6.1f | %6.1f | %9s | %11s | %8s | %6s | %8s | %5.1f %% |\n",
      method.c_str(), pct(within10), pct(within5), mean, percentile(excess, 0.95),
      rounds_text.c_str(), time_text.c_str(), own_text.c_str(), probe_text.c_str(), reached.c_str(),
      pct(found));
}

// Runs one discovery on `prober` and returns its result (nullopt: none within 5 s).
std::optional<client::DiscoveryResult> discover(sim::SimNetwork& net, client::Prober& prober,
                                                const client::DiscoverOptions& options) {
  const TimePoint began = net.now();
  if (!prober.start(began, options)) return std::nullopt;
  std::optional<client::DiscoveryResult> result;
  net.run_until(
      [&] {
        if (auto finished = prober.poll_result()) result = std::move(finished->result);
        return result.has_value();
      },
      began + 5s);
  net.run_for(20ms);  // Late replies land before the next discovery.
  return result;
}

void run_shape(Shape shape, uint64_t seed, size_t client_count, double loss, bool by_city) {
  World world(shape, seed, loss, by_city);
  const std::vector<Server>& servers = world.servers();
  std::map<Endpoint, size_t> by_address;
  for (size_t i = 0; i < servers.size(); ++i)
    by_address[servers[i].address] = i;

  SeededRandom random(seed ^ 0x5151);
  std::map<std::string, std::vector<Sample>> results;
  std::vector<std::unique_ptr<ClientNode>> clients;  // Nodes of the network: kept to its end.
  const std::vector<std::string> methods{"greedy", "speculative", "warm", "geo-dns", "random"};
  for (size_t c = 0; c < client_count; ++c) {
    const Client client{c % kCityCount, 2.0 + 23.0 * pair_draw(seed, c, 0, 4)};
    auto rtt = [&](size_t s) { return 2 * world.one_way_ms(client, c, s); };
    double optimal = 1e18;
    std::vector<size_t> with_room;
    for (size_t s = 0; s < servers.size(); ++s) {
      if (!servers[s].leaf || servers[s].load >= 900) continue;
      with_room.push_back(s);
      optimal = std::min(optimal, rtt(s));
    }
    auto sample_of = [&](size_t chosen) {
      Sample s;
      s.found = true;
      s.optimal_ms = optimal;
      s.chosen_ms = rtt(chosen);
      s.excess_ms = std::max(0.0, s.chosen_ms - optimal);
      return s;
    };
    auto from_result = [&](const std::optional<client::DiscoveryResult>& r) {
      if (!r || !r->ok() || r->path.empty()) return Sample{};
      const auto it = by_address.find(*parse_endpoint(r->path.back().address.to_string()));
      if (it == by_address.end()) return Sample{};
      Sample s = sample_of(it->second);
      s.time_ms = static_cast<double>(r->total_time.count()) / 1000.0;
      s.round_trips = r->round_trips;
      s.probes = r->probes_sent;
      // The round trips waited for: the path's, one per hop but the speculative ones (a warm
      // answer: the leaf's alone).
      double bare = 0;
      for (const Hop& hop : r->path) {
        if (hop.speculative || (r->warm && &hop != &r->path.back())) continue;
        const auto at = by_address.find(*parse_endpoint(hop.address.to_string()));
        if (at != by_address.end()) bare += rtt(at->second);
      }
      s.own_ms = *s.time_ms - bare;
      s.optimal_answered = std::any_of(r->answers.begin(), r->answers.end(), [&](const Hop& h) {
        const auto at = by_address.find(*parse_endpoint(h.address.to_string()));
        return at != by_address.end() && rtt(at->second) <= optimal;
      });
      return s;
    };
    client::DiscoverOptions options;
    options.roots = world.root_texts();
    options.verify = false;
    options.transport = TransportMode::kUdp;
    options.timeout = 3000ms;
    // One global root lists 40 regions: the walk must be allowed to probe them all (the
    // defaults, 16 a level and 32 a speculative round, are for trees of ordinary width).
    options.max_children_per_level = 64;
    options.max_speculative = 160;
    options.max_probes = 400;
    options.max_probe_bytes = 400 * 1280;
    for (const bool speculate : {false, true}) {
      // A client of its own for each method: nothing learnt by one helps the other.
      clients.push_back(
          std::make_unique<ClientNode>(seed + c * 2 + (speculate ? 1 : 0), world.net().now()));
      client::Prober& prober = clients.back()->prober;
      const Endpoint address = Endpoint::v4(100, speculate ? 65 : 64, static_cast<uint8_t>(c / 250),
                                            static_cast<uint8_t>(c % 250 + 1), 40000);
      const sim::NodeId id = world.add_client(prober, address, client, c);
      options.speculate = speculate;
      options.use_last_path = speculate;
      results[speculate ? "speculative" : "greedy"].push_back(
          from_result(discover(world.net(), prober, options)));
      if (speculate) results["warm"].push_back(from_result(discover(world.net(), prober, options)));
      world.net().set_node_down(id, true);  // Done: it sends nothing more.
    }
    // Geo-DNS: the leaf nearest by coordinates, whatever its load.
    size_t nearest = 0;
    double best_km = 1e18;
    for (size_t s = 0; s < servers.size(); ++s) {
      if (!servers[s].leaf) continue;
      const double km = great_circle_km(kCities[client.city], kCities[servers[s].city]) +
                        1e-6 * static_cast<double>(s);
      if (km < best_km) {
        best_km = km;
        nearest = s;
      }
    }
    results["geo-dns"].push_back(sample_of(nearest));
    results["random"].push_back(sample_of(with_room[random.below(with_room.size())]));
  }
  size_t leaves = 0, overloaded = 0;
  for (const Server& s : servers) {
    leaves += s.leaf;
    overloaded += s.leaf && s.load >= 900;
  }
  std::printf(
      "\n%s shape, %zu regions, %zu leaves (%zu overloaded), %zu clients, loss %.0f %% "
      "each way on every link, path inflation per %s, seed %llu\n\n",
      shape == Shape::kGlobal ? "global-root" : "continental-roots", kRegions, leaves, overloaded,
      client_count, loss * 100, by_city ? "client and city" : "client and server",
      static_cast<unsigned long long>(seed));
  std::printf(
      "| method      | <=10 %%  | <=5 ms  | mean + | p95 +  | RTs p50/99 | ms p50/p99  | own p50  "
      "| "
      "probes | optimal? | found   |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const std::string& m : methods)
    print_row(m, results[m]);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = 1;
  size_t clients = 300;
  double loss = 0;
  std::string shape = "both";
  std::string inflation = "server";
  CLI::App app("choice_quality: how near the chosen TURN server is, in a simulated world");
  app.add_option("--seed", seed, "Seed of the world and of every draw")->capture_default_str();
  app.add_option("--clients", clients, "Client locations (cities, cycled with other access delays)")
      ->check(CLI::Range(size_t{1}, size_t{2000}))
      ->capture_default_str();
  app.add_option("--loss", loss, "Loss each way on every link, 0 to 0.5")
      ->check(CLI::Range(0.0, 0.5))
      ->capture_default_str();
  app.add_option("--shape", shape, "global, continental or both")
      ->check(CLI::IsMember({"global", "continental", "both"}))
      ->capture_default_str();
  app.add_option("--inflation", inflation,
                 "Path inflation drawn per client and server, or per client and city (the "
                 "servers of a city then share a path, each within 5 % of it)")
      ->check(CLI::IsMember({"server", "city"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const bool by_city = inflation == "city";
  std::printf(
      "columns: share of clients whose chosen leaf is within 10 %% and within 5 ms of\n"
      "their optimal RTT (the lowest among leaves under the overload limit); mean and\n"
      "p95 RTT over the optimal (ms); discovery time in round trips and in ms (p50 /\n"
      "p99); own p50: the time over the bare round trips waited for (ms); probes sent\n"
      "per discovery; optimal?: the optimal leaf (or one as near) was probed and\n"
      "answered; found: discoveries that chose a leaf.\n");
  if (shape != "continental") run_shape(Shape::kGlobal, seed, clients, loss, by_city);
  if (shape != "global") run_shape(Shape::kContinental, seed, clients, loss, by_city);
  return 0;
}
