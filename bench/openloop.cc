// Open-loop HTTP load generator (coordinated-omission corrected), for bench/run.sh.
//
// wrk is closed-loop: a slow response delays the next request on its connection, so the
// queueing it causes never shows in the latencies. Here requests are scheduled at fixed
// intervals (rate R: request k at start + k/R) whatever the server does; a scheduled request
// waits for an idle keep-alive connection if none is free, and its latency is measured from
// its SCHEDULED send time to the last byte of its response (as wrk2 does).
//
//   openloop --port P[,P2,...] --rate R --duration S [--host 127.0.0.1] [--connections 64] [--threads 1]
//            [--warmup 1] [--drain 5] [--key API_KEY --prefix ID_PREFIX | --get PATH]
//
// Several ports (replicas of one service, no load balancer in between): a worker's connections
// are spread over them in turn (connection i to port i mod N), and each request goes to the
// next port in round-robin order that has an idle connection (as nginx's default balancing),
// waiting for one only when every port's connections are busy.
//
// With --key: POST /v1/transactions/validate bodies shaped like bench/validate.lua's (unique
// transaction ids, a pool of valid Luhn card numbers, customers, e-mails and IPs varied).
// With --get PATH: GET PATH (the nginx reference). Requests scheduled in the first --warmup
// seconds are sent but not measured. After the schedule ends, outstanding requests get --drain
// seconds; those still unanswered count as timeouts, with the latency they had reached. The run
// is bounded: warm-up + duration + drain.
//
// Prints a human summary and one machine-readable line:
//   OPENLOOP target_rate=.. achieved_rate=.. sent=.. responses=.. non2xx=.. errors=.. timeouts=..
//            p50_us=.. p99_us=.. p999_us=.. max_us=.. send_delay_p99_us=.. timer_lag_p99_us=..
// send_delay is scheduled -> written (it includes waiting for a free connection: the server's
// queueing); timer_lag is scheduled -> queued by the generator's timer: large values mean the
// generator itself was short of CPU (then the figures measure the machine, not the server).
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Ns = std::chrono::nanoseconds;

struct Options {
  std::string host = "127.0.0.1";
  std::vector<unsigned short> ports;
  double rate = 0;
  double duration = 10;
  double warmup = 1;
  double drain = 5;
  int connections = 64;
  int threads = 1;
  std::string key;
  std::string prefix = "ol";
  std::string get_path;
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "openloop: %s\nusage: openloop --port P[,P2,...] --rate R --duration S [--host H] [--connections N] "
               "[--threads T] [--warmup S] [--drain S] [--key API_KEY [--prefix ID_PREFIX] | --get PATH]\n",
               msg);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value");
      return argv[++i];
    };
    if (a == "--host") {
      o.host = value();
    } else if (a == "--port") {
      const std::string list = value();
      for (std::size_t pos = 0; pos <= list.size();) {
        auto comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        const int port = std::atoi(list.substr(pos, comma - pos).c_str());
        if (port <= 0 || port > 65535) usage("--port takes port numbers separated by commas");
        o.ports.push_back(static_cast<unsigned short>(port));
        pos = comma + 1;
      }
    } else if (a == "--rate") {
      o.rate = std::atof(value().c_str());
    } else if (a == "--duration") {
      o.duration = std::atof(value().c_str());
    } else if (a == "--warmup") {
      o.warmup = std::atof(value().c_str());
    } else if (a == "--drain") {
      o.drain = std::atof(value().c_str());
    } else if (a == "--connections") {
      o.connections = std::atoi(value().c_str());
    } else if (a == "--threads") {
      o.threads = std::atoi(value().c_str());
    } else if (a == "--key") {
      o.key = value();
    } else if (a == "--prefix") {
      o.prefix = value();
    } else if (a == "--get") {
      o.get_path = value();
    } else {
      usage(("unknown argument " + std::string(a)).c_str());
    }
  }
  if (o.ports.empty()) usage("--port is required");
  if (!(o.rate > 0)) usage("--rate must be > 0");
  if (!(o.duration > 0) || o.warmup < 0 || o.drain < 0) usage("bad --duration/--warmup/--drain");
  if (o.threads < 1 || o.connections < o.threads) usage("need --threads >= 1 and --connections >= --threads");
  if (o.connections < o.threads * static_cast<int>(o.ports.size()))
    usage("need at least one connection per port on every thread (--connections >= --threads x ports)");
  if (o.key.empty() == o.get_path.empty()) usage("give exactly one of --key (validate) or --get PATH");
  return o;
}

std::string luhn_complete(const std::string& partial) {
  int sum = 0;
  bool dbl = true;
  for (auto it = partial.rbegin(); it != partial.rend(); ++it) {
    int d = *it - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return partial + static_cast<char>('0' + (10 - sum % 10) % 10);
}

struct Result {
  std::vector<std::uint32_t> latency_us;     // measured requests: scheduled -> response complete
  std::vector<std::uint32_t> send_delay_us;  // measured requests: scheduled -> write started
  std::vector<std::uint32_t> timer_lag_us;   // measured requests: scheduled -> queued by the timer
  std::uint64_t sent = 0, responses = 0, non2xx = 0, errors = 0, timeouts = 0;
  std::uint64_t measured_timeouts = 0;  // timeouts whose latency is in latency_us
  Clock::time_point last_response{};
};

// One io_context on one thread: its share of the connections and of the schedule.
class Worker {
 public:
  Worker(const Options& o, int index) : o_(o), index_(index), timer_(io_), deadline_(io_) {
    // This worker sends global requests k = index, index + T, index + 2T, ...
    const double total_global = std::floor((o.warmup + o.duration) * o.rate);
    total_ = static_cast<std::uint64_t>(
        std::max(0.0, std::ceil((total_global - static_cast<double>(index)) / static_cast<double>(o.threads))));
    const int n = o.connections / o.threads + (index < o.connections % o.threads ? 1 : 0);
    for (int i = 0; i < n; ++i) {
      conns_.push_back(std::make_unique<Conn>(io_));
      conns_.back()->port_index = i % o.ports.size();
    }
    idle_.resize(o.ports.size());
    endpoints_.resize(o.ports.size());
    if (o.get_path.empty()) {
      for (int i = 0; i < 4096; ++i) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "5%02d%012d", (index + 50) % 100, i * 7919 + 1000003);
        pans_.push_back(luhn_complete(buf));
      }
    }
  }

  bool connect_all() {
    tcp::resolver resolver(io_);
    boost::system::error_code ec;
    for (std::size_t p = 0; p < o_.ports.size(); ++p) {
      endpoints_[p] = resolver.resolve(o_.host, std::to_string(o_.ports[p]), ec);
      if (ec) return false;
    }
    for (auto& c : conns_) {
      asio::connect(c->sock, endpoints_[c->port_index], ec);
      if (ec) {
        std::fprintf(stderr, "openloop: connect %s:%u: %s\n", o_.host.c_str(), o_.ports[c->port_index],
                     ec.message().c_str());
        return false;
      }
      c->sock.set_option(tcp::no_delay(true));
      idle_[c->port_index].push_back(c.get());
    }
    return true;
  }

  void run(Clock::time_point start) {
    start_ = start;
    measure_from_ = start_ + std::chrono::duration_cast<Ns>(std::chrono::duration<double>(o_.warmup));
    end_ = start_ + std::chrono::duration_cast<Ns>(std::chrono::duration<double>(o_.warmup + o_.duration));
    timer_.expires_at(start_);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) schedule_next();
    });
    const auto hard_end = end_ + std::chrono::duration_cast<Ns>(std::chrono::duration<double>(o_.drain));
    deadline_.expires_at(hard_end);
    deadline_.async_wait([this](boost::system::error_code ec) {
      if (!ec) give_up();
    });
    io_.run();
  }

  Result& result() { return r_; }

 private:
  struct Conn {
    explicit Conn(asio::io_context& io) : sock(io) {}
    tcp::socket sock;
    std::string out;
    std::string in;
    std::size_t in_len = 0;
    Clock::time_point sched{};
    bool busy = false;
    std::size_t port_index = 0;
  };

  Clock::time_point sched_time(std::uint64_t j) const {
    const double k = static_cast<double>(index_) + static_cast<double>(j) * o_.threads;
    return start_ + Ns(static_cast<std::int64_t>(k * 1e9 / o_.rate));
  }

  void schedule_next() {
    const auto now = Clock::now();
    while (next_ < total_ && sched_time(next_) <= now) {
      const auto s = sched_time(next_++);
      if (s >= measure_from_) r_.timer_lag_us.push_back(to_us(now - s));
      pending_.push_back(s);
    }
    dispatch();
    if (next_ < total_) {
      timer_.expires_at(sched_time(next_));
      timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) schedule_next();
      });
    } else {
      maybe_finish();
    }
  }

  // The next port in round-robin order with an idle connection (its most recently used one), or
  // nullptr when all are busy.
  Conn* take_idle() {
    for (std::size_t tries = 0; tries < idle_.size(); ++tries) {
      auto& list = idle_[next_port_];
      next_port_ = (next_port_ + 1) % idle_.size();
      if (list.empty()) continue;
      Conn* c = list.back();
      list.pop_back();
      return c;
    }
    return nullptr;
  }

  void dispatch() {
    while (!pending_.empty()) {
      Conn* c = take_idle();
      if (c == nullptr) break;
      const auto sched = pending_.front();
      pending_.pop_front();
      send(c, sched);
    }
  }

  void build_request(Conn* c) {
    c->out.clear();
    if (!o_.get_path.empty()) {
      c->out += "GET " + o_.get_path + " HTTP/1.1\r\nHost: " + o_.host + "\r\n\r\n";
      return;
    }
    const std::uint64_t n = ++counter_;
    const auto cust = n % 500;
    char body[768];
    const int len = std::snprintf(
        body, sizeof body,
        "{\"transaction_id\":\"%s-%d-%llu\",\"merchant_id\":\"m-bench\",\"amount\":%llu,\"currency\":\"USD\","
        "\"card\":{\"number\":\"%s\",\"expiry_month\":12,\"expiry_year\":2030},"
        "\"customer\":{\"id\":\"c-%llu\",\"email\":\"c%llu@example.com\",\"ip\":\"198.51.%llu.%llu\","
        "\"country\":\"US\"},\"merchant\":{\"mcc\":\"5411\",\"country\":\"US\"}}",
        o_.prefix.c_str(), index_, static_cast<unsigned long long>(n), static_cast<unsigned long long>(1000 + n % 9000),
        pans_[n % pans_.size()].c_str(), static_cast<unsigned long long>(cust), static_cast<unsigned long long>(cust),
        static_cast<unsigned long long>((n / 250) % 250), static_cast<unsigned long long>(n % 250));
    c->out += "POST /v1/transactions/validate HTTP/1.1\r\nHost: " + o_.host + "\r\nAuthorization: Bearer " + o_.key +
              "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(len) + "\r\n\r\n";
    c->out.append(body, static_cast<std::size_t>(len));
  }

  void send(Conn* c, Clock::time_point sched) {
    c->sched = sched;
    c->busy = true;
    c->in_len = 0;
    ++r_.sent;
    if (sched >= measure_from_) {
      r_.send_delay_us.push_back(to_us(Clock::now() - sched));
    }
    build_request(c);
    asio::async_write(c->sock, asio::buffer(c->out), [this, c](boost::system::error_code ec, std::size_t) {
      if (ec) return fail(c);
      read_more(c);
    });
  }

  void read_more(Conn* c) {
    if (c->in.size() < c->in_len + 4096) c->in.resize(c->in_len + 16384);
    c->sock.async_read_some(asio::buffer(c->in.data() + c->in_len, c->in.size() - c->in_len),
                            [this, c](boost::system::error_code ec, std::size_t n) {
                              if (ec) return fail(c);
                              c->in_len += n;
                              on_data(c);
                            });
  }

  static bool iequals_prefix(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    return true;
  }

  void on_data(Conn* c) {
    std::string_view data(c->in.data(), c->in_len);
    const auto head_end = data.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return read_more(c);
    const std::string_view head = data.substr(0, head_end + 2);
    if (head.size() < 12 || head.substr(0, 5) != "HTTP/") return fail(c);
    const int status = std::atoi(std::string(head.substr(9, 3)).c_str());
    std::size_t content_length = 0;
    bool close = false;
    for (std::size_t pos = head.find("\r\n") + 2; pos < head.size();) {
      const auto eol = head.find("\r\n", pos);
      const std::string_view line = head.substr(pos, eol - pos);
      if (iequals_prefix(line, "content-length:")) {
        content_length = static_cast<std::size_t>(std::strtoull(std::string(line.substr(15)).c_str(), nullptr, 10));
      } else if (iequals_prefix(line, "connection:") && line.find("close") != std::string_view::npos) {
        close = true;
      } else if (iequals_prefix(line, "transfer-encoding:")) {
        return fail(c);  // neither txv nor nginx answers chunked here
      }
      pos = eol + 2;
    }
    if (c->in_len < head_end + 4 + content_length) return read_more(c);
    complete(c, status, !close);
  }

  static std::uint32_t to_us(Clock::duration d) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    return static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 0, UINT32_MAX));
  }

  void complete(Conn* c, int status, bool reuse) {
    const auto now = Clock::now();
    ++r_.responses;
    if (status < 200 || status > 299) ++r_.non2xx;
    if (c->sched >= measure_from_) {
      r_.latency_us.push_back(to_us(now - c->sched));
      r_.last_response = now;
    }
    c->busy = false;
    if (reuse) {
      idle_[c->port_index].push_back(c);
      dispatch();
    } else {
      reconnect(c);
    }
    maybe_finish();
  }

  void fail(Conn* c) {
    if (!c->busy) return;
    ++r_.errors;
    c->busy = false;
    reconnect(c);
    maybe_finish();
  }

  void reconnect(Conn* c) {
    std::erase(idle_[c->port_index], c);
    boost::system::error_code ignored;
    c->sock.close(ignored);
    c->sock = tcp::socket(io_);
    asio::async_connect(c->sock, endpoints_[c->port_index],
                        [this, c](boost::system::error_code ec, const tcp::endpoint&) {
                          if (ec) return;  // stays out of the pool
                          c->sock.set_option(tcp::no_delay(true));
                          idle_[c->port_index].push_back(c);
                          dispatch();
                        });
  }

  void maybe_finish() {
    if (next_ < total_ || !pending_.empty()) return;
    for (auto& c : conns_)
      if (c->busy) return;
    finish();
  }

  // The drain time is over: what is still queued or in flight is a timeout, with the latency it
  // has reached so far (a lower bound), so a server that stopped answering cannot look fast.
  void give_up() {
    const auto now = Clock::now();
    for (auto s : pending_) {
      ++r_.timeouts;
      if (s >= measure_from_) {
        r_.latency_us.push_back(to_us(now - s));
        ++r_.measured_timeouts;
      }
    }
    pending_.clear();
    for (auto& c : conns_) {
      if (!c->busy) continue;
      ++r_.timeouts;
      if (c->sched >= measure_from_) {
        r_.latency_us.push_back(to_us(now - c->sched));
        ++r_.measured_timeouts;
      }
    }
    // Requests that were never even scheduled (the timer fell behind) are not counted.
    finish();
  }

  void finish() {
    boost::system::error_code ignored;
    timer_.cancel();
    deadline_.cancel();
    for (auto& c : conns_) c->sock.close(ignored);
    io_.stop();
  }

  const Options& o_;
  const int index_;
  Clock::time_point start_{}, measure_from_{}, end_{};
  asio::io_context io_;
  asio::steady_timer timer_, deadline_;
  std::vector<tcp::resolver::results_type> endpoints_;  // per port
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<std::vector<Conn*>> idle_;  // per port
  std::size_t next_port_ = 0;
  std::deque<Clock::time_point> pending_;
  std::vector<std::string> pans_;
  std::uint64_t total_ = 0, next_ = 0, counter_ = 0;
  Result r_;
};

double percentile_ms(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const auto idx = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size()))) - 1;
  const auto i = std::min(v.size() - 1, idx == static_cast<std::size_t>(-1) ? 0 : idx);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i] / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  // Connect everything first; the clock starts 100 ms later on every worker at once.
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < o.threads; ++t) {
    workers.push_back(std::make_unique<Worker>(o, t));
    if (!workers.back()->connect_all()) return 1;
  }
  const auto start = Clock::now() + std::chrono::milliseconds(100);
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w, start] { w->run(start); });
  for (auto& t : threads) t.join();

  Result all;
  Clock::time_point last{};
  for (auto& w : workers) {
    auto& r = w->result();
    all.latency_us.insert(all.latency_us.end(), r.latency_us.begin(), r.latency_us.end());
    all.send_delay_us.insert(all.send_delay_us.end(), r.send_delay_us.begin(), r.send_delay_us.end());
    all.timer_lag_us.insert(all.timer_lag_us.end(), r.timer_lag_us.begin(), r.timer_lag_us.end());
    all.sent += r.sent;
    all.responses += r.responses;
    all.non2xx += r.non2xx;
    all.errors += r.errors;
    all.timeouts += r.timeouts;
    all.measured_timeouts += r.measured_timeouts;
    last = std::max(last, r.last_response);
  }
  const auto measure_from = start + std::chrono::duration_cast<Ns>(std::chrono::duration<double>(o.warmup));
  const std::uint64_t measured_ok = all.latency_us.size() - all.measured_timeouts;
  const double window = std::max(o.duration, std::chrono::duration<double>(last - measure_from).count());
  const double achieved = static_cast<double>(measured_ok) / window;
  const double p50 = percentile_ms(all.latency_us, 50), p99 = percentile_ms(all.latency_us, 99),
               p999 = percentile_ms(all.latency_us, 99.9), pmax = percentile_ms(all.latency_us, 100);
  const double sd99 = percentile_ms(all.send_delay_us, 99);
  const double lag99 = percentile_ms(all.timer_lag_us, 99);
  std::printf("open-loop: target %.0f req/s for %.0f s (+%.0f s warm-up), %d connections, %d thread(s), %zu port(s)\n",
              o.rate, o.duration, o.warmup, o.connections, o.threads, o.ports.size());
  std::printf("  achieved %.0f req/s; %llu sent, %llu responses, %llu non-2xx, %llu errors, %llu timeouts\n", achieved,
              static_cast<unsigned long long>(all.sent), static_cast<unsigned long long>(all.responses),
              static_cast<unsigned long long>(all.non2xx), static_cast<unsigned long long>(all.errors),
              static_cast<unsigned long long>(all.timeouts));
  std::printf("  latency from the scheduled send: p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n", p50, p99,
              p999, pmax);
  std::printf(
      "  p99 scheduled->written %.3f ms (includes waiting for a free connection); generator timer lag p99 %.3f ms\n",
      sd99, lag99);
  std::printf(
      "OPENLOOP target_rate=%.0f achieved_rate=%.0f sent=%llu responses=%llu non2xx=%llu errors=%llu timeouts=%llu "
      "p50_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f send_delay_p99_us=%.0f timer_lag_p99_us=%.0f\n",
      o.rate, achieved, static_cast<unsigned long long>(all.sent), static_cast<unsigned long long>(all.responses),
      static_cast<unsigned long long>(all.non2xx), static_cast<unsigned long long>(all.errors),
      static_cast<unsigned long long>(all.timeouts), p50 * 1000, p99 * 1000, p999 * 1000, pmax * 1000, sd99 * 1000,
      lag99 * 1000);
  return 0;
}
