#include "cache/redis/redis_velocity_counters.h"

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "common/text.h"

namespace txv::cache {

namespace {

constexpr std::int64_t kMaxWindowMs = 400LL * 24 * 3600 * 1000;
constexpr std::int64_t kMaxAbsAtMs = 1LL << 50;
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

constexpr std::array<const char*, kVelocityKeyCount> kKeyNames = {"card", "customer", "email",
                                                                  "ip",   "device",   "merchant"};

// Shared by both scripts.
// Amounts: exact int64 sums in Lua doubles, as two base-10^9 limbs (hi, lo). add() saturates (a window's answer);
// addu() does not (stored sums, so that a cancel or a trim can take an amount back out exactly; the high limb stays
// exact below 2^53, i.e. for any sum below 9e24).
// A bucket field is "<count> <currency>=<amount> ...", the hash's "_" field "<s> <t> " followed by the same for
// the totals of every bucket it holds: s = first bucket it is authoritative for, t = first bucket it still holds.
constexpr const char* kLuaCommon = R"lua(
local E = 1000000000
local CAP = 9223372037
local function parse(s)
  local n = #s
  if n <= 9 then return 0, tonumber(s) end
  return tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))
end
local function add(h, l, h2, l2)
  h = h + h2
  l = l + l2
  if l >= E then l = l - E; h = h + 1 end
  if h >= CAP then h = CAP; l = 0 end
  return h, l
end
local function addu(h, l, h2, l2)
  h = h + h2
  l = l + l2
  if l >= E then l = l - E; h = h + 1 end
  return h, l
end
local function sub(h, l, h2, l2)
  h = h - h2
  l = l - l2
  if l < 0 then l = l + E; h = h - 1 end
  if h < 0 then h = 0; l = 0 end
  return h, l
end
local function num(x) return string.format('%d', x) end
local function fmt(h, l)
  if h == 0 then return num(l) end
  return num(h) .. string.format('%09d', l)
end
-- count and amounts from the tokens of `s` starting at token i0
local function dec(s, i0)
  local c, m, i = 0, {}, 0
  for tok in string.gmatch(s, '%S+') do
    i = i + 1
    if i == i0 then
      c = tonumber(tok)
    elseif i > i0 then
      local k, v = string.match(tok, '^(.*)=(%d+)$')
      local h, l = parse(v)
      m[k] = {h, l}
    end
  end
  return c, m
end
local function enc(c, m)
  local parts = {num(c)}
  for k, v in pairs(m) do
    if v[1] ~= 0 or v[2] ~= 0 then parts[#parts + 1] = k .. '=' .. fmt(v[1], v[2]) end
  end
  return table.concat(parts, ' ')
end
local function load(H)
  local raw = redis.call('HGET', H.key, '_')
  if not raw then return false end
  local s, t = string.match(raw, '^(%-?%d+) (%-?%d+) ')
  H.s, H.t = tonumber(s), tonumber(t)
  H.c, H.m = dec(raw, 3)
  return true
end
local function meta(H) return num(H.s) .. ' ' .. num(H.t) .. ' ' .. enc(H.c, H.m) end
local function take(m, cur, h, l)
  local v = m[cur]
  if v then m[cur] = {sub(v[1], v[2], h, l)} end
end
local function put(m, cur, h, l)
  local v = m[cur]
  if v then m[cur] = {addu(v[1], v[2], h, l)} else m[cur] = {h, l} end
end
)lua";

// Read the totals of every query, then record the event under every key value (see the header for the layout).
// KEYS, per key value: e, x, then one hash per window.
// ARGV: id, at, currency, amount, nkv; per key value: event retention, nh, then per hash (window, width, exact,
//       ttl); nq; per query: key value index (1-based), hash slot (1-based, 0: the events alone), window, exact.
// KEYS may end with the epoch marker.
// Returns per query {count, amount hi limb, amount lo limb}; with the marker, then {epoch, set by this call (0/1),
// recorded (0/1)}.
constexpr const char* kRecordLua = R"lua(
local id, at, cur, amt = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local ah, al = parse(amt)
local member = id .. ':' .. cur .. ':' .. amt
local nkv = tonumber(ARGV[5])

-- Drops the buckets below `to` from a hash, taking them out of its totals.
local function trim(H, to)
  if to <= H.t then return end
  local function drop(f, raw)
    local c, m = dec(raw, 1)
    H.c = H.c - c
    for k, v in pairs(m) do take(H.m, k, v[1], v[2]) end
  end
  local del = {}
  if to - H.t <= 64 then
    for b = H.t, to - 1 do
      local f = num(b)
      local raw = redis.call('HGET', H.key, f)
      if raw then
        drop(f, raw)
        del[#del + 1] = f
      end
    end
  else
    local all = redis.call('HGETALL', H.key)
    for i = 1, #all, 2 do
      local f = all[i]
      if f ~= '_' and tonumber(f) < to then
        drop(f, all[i + 1])
        del[#del + 1] = f
      end
    end
  end
  for i = 1, #del, 1000 do
    redis.call('HDEL', H.key, unpack(del, i, math.min(i + 999, #del)))
  end
  H.t = to
  H.dirty = true
end

local a, k = 6, 1
local kvs = {}
for i = 1, nkv do
  local kv = {e = KEYS[k], x = KEYS[k + 1], rete = tonumber(ARGV[a]), hs = {}}
  local nh = tonumber(ARGV[a + 1])
  k = k + 2
  a = a + 2
  local top = redis.call('ZRANGE', kv.e, -1, -1, 'WITHSCORES')
  if top[2] then kv.newest = tonumber(top[2]) end
  kv.top = at
  if kv.newest and kv.newest > at then kv.top = kv.newest end
  for j = 1, nh do
    local H = {key = KEYS[k], w = tonumber(ARGV[a]), g = tonumber(ARGV[a + 1]), exact = ARGV[a + 2] == '1',
               ttl = ARGV[a + 3]}
    k = k + 1
    a = a + 4
    H.first = math.floor((kv.top - H.w) / H.g)
    if H.exact then H.first = H.first + 1 end
    H.exists = load(H)
    if H.exists then trim(H, H.first) end
    kv.hs[j] = H
  end
  kvs[i] = kv
end

-- The epoch marker (KEYS[k], after the key values' keys; absent: not kept): when Redis has lost it, Redis was
-- emptied. It is set once, by the first call that notices, to that call's `at` (0 when this call's key values still
-- hold state: a Redis filled before the marker existed, not an emptied one). Events older than the epoch are not
-- recorded: they are counted from the stored decisions (warming_velocity_counters.h).
local ek = KEYS[k]
local epoch, fresh, record = nil, 0, true
if ek then
  local v = redis.call('GET', ek)
  if v then
    epoch = tonumber(v)
  else
    local held = false
    for i = 1, nkv do
      if kvs[i].newest then held = true end
      for j = 1, #kvs[i].hs do
        if kvs[i].hs[j].exists then held = true end
      end
    end
    if held then epoch = 0 else epoch = at; fresh = 1 end
    redis.call('SET', ek, num(epoch))
  end
  record = at >= epoch
end

local nq = tonumber(ARGV[a])
a = a + 1
local out = {}
for q = 1, nq do
  local kv = kvs[tonumber(ARGV[a])]
  local H = kv.hs[tonumber(ARGV[a + 1])]
  local w = tonumber(ARGV[a + 2])
  local exact = ARGV[a + 3] == '1'
  a = a + 4
  local cut = at - w
  local cnt, h, l = 0, 0, 0
  local split = nil
  if H and H.exists then
    cnt = H.c
    local v = H.m[cur]
    if v then h, l = add(0, 0, v[1], v[2]) end
    local lo = H.t
    if H.s > lo then lo = H.s end
    split = lo * H.g
  end
  if split == nil or split > cut then
    -- What the hash does not hold: the partial bucket at the far edge, or a hash too new for the window.
    local upper = '+inf'
    if split then upper = '(' .. num(split) end
    local ms = redis.call('ZRANGEBYSCORE', kv.e, '(' .. num(cut), upper)
    for i = 1, #ms do
      local c, s = string.match(ms[i], ':([^:]*):(%d+)$')
      if c == cur then
        local x, y = parse(s)
        h, l = add(h, l, x, y)
      end
    end
    cnt = cnt + #ms
  end
  if exact then cnt = redis.call('ZCOUNT', kv.e, '(' .. num(cut), '+inf') end
  out[q] = {cnt, h, l}
end

for i = 1, nkv do
  local kv = kvs[i]
  local dead = not record
  if not dead and redis.call('EXISTS', kv.x) == 1 then dead = redis.call('SISMEMBER', kv.x, id) == 1 end
  if not dead then
    redis.call('ZADD', kv.e, ARGV[2], member)
    redis.call('ZREMRANGEBYSCORE', kv.e, '-inf', num(kv.top - kv.rete))
    redis.call('PEXPIRE', kv.e, num(kv.rete))
    for j = 1, #kv.hs do
      local H = kv.hs[j]
      if not H.exists then
        -- A new hash holds every bucket from `first` on, unless the events set already has events: then only the
        -- buckets after its newest (the older ones are read from the events set).
        if kv.newest then H.s = math.floor(kv.newest / H.g) + 1 else H.s = H.first end
        H.t = H.first
        H.c, H.m = 0, {}
        H.dirty = true
      end
      local b = math.floor(at / H.g)
      if b >= H.s and b >= H.t then
        local f = num(b)
        local c, m = dec(redis.call('HGET', H.key, f) or '0', 1)
        put(m, cur, ah, al)
        put(H.m, cur, ah, al)
        H.c = H.c + 1
        redis.call('HSET', H.key, f, enc(c + 1, m), '_', meta(H))
      elseif H.dirty then
        redis.call('HSET', H.key, '_', meta(H))
      end
      redis.call('PEXPIRE', H.key, H.ttl)
    end
  end
end
if ek then
  local r = 0
  if record then r = 1 end
  out[nq + 1] = {num(epoch), fresh, r}
end
return out
)lua";

// Remove one event. KEYS, per key value: e, x, then one hash per window.
// ARGV: member, at, id, tombstone ttl, nkv; per key value: nh, then each hash's bucket width.
// Returns how many key values held the event.
constexpr const char* kCancelLua = R"lua(
local member, at, id, ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local cur, amt = string.match(member, ':([^:]*):(%d+)$')
local ah, al = parse(amt)
local nkv = tonumber(ARGV[5])
local a, k = 6, 1
local removed = 0
for i = 1, nkv do
  local e, x = KEYS[k], KEYS[k + 1]
  k = k + 2
  local nh = tonumber(ARGV[a])
  a = a + 1
  local gone = redis.call('ZREM', e, member) == 1
  if gone then
    removed = removed + 1
  else
    -- Not there: already cancelled, or not recorded yet (a record whose outcome was unknown): make sure it never is.
    redis.call('SADD', x, id)
    redis.call('PEXPIRE', x, ttl)
  end
  for j = 1, nh do
    local H = {key = KEYS[k], g = tonumber(ARGV[a])}
    k = k + 1
    a = a + 1
    if gone and load(H) then
      local b = math.floor(at / H.g)
      local f = num(b)
      local raw = b >= H.s and b >= H.t and redis.call('HGET', H.key, f)
      if raw then
        local c, m = dec(raw, 1)
        take(m, cur, ah, al)
        take(H.m, cur, ah, al)
        H.c = H.c - 1
        if c <= 1 then
          redis.call('HDEL', H.key, f)
          redis.call('HSET', H.key, '_', meta(H))
        else
          redis.call('HSET', H.key, f, enc(c - 1, m), '_', meta(H))
        end
      end
    end
  end
end
return removed
)lua";

// Sets the epoch marker KEYS[1] to ARGV[1] when it is missing and the database holds no key at all.
constexpr const char* kMarkEmptyLua = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('DBSIZE') == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
)lua";

const RedisScript& mark_empty_script() {
  static const RedisScript script(kMarkEmptyLua);
  return script;
}

const RedisScript& record_script() {
  static const RedisScript script(std::string(kLuaCommon) + kRecordLua);
  return script;
}

const RedisScript& cancel_script() {
  static const RedisScript script(std::string(kLuaCommon) + kCancelLua);
  return script;
}

std::string random_id() {
  thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }()};
  std::uint64_t v = 0;
  while (v == 0) v = rng();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf, 16);
}

std::uint64_t id_number(const std::string& hex) { return std::stoull(hex, nullptr, 16); }

// What cancel() needs: the cancel script's KEYS and ARGV.
struct RedisTicket final : VelocityTicketState {
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

std::int64_t saturated(std::int64_t hi, std::int64_t lo) {
  constexpr std::int64_t kE = 1000000000;
  if (hi < 0 || lo < 0) return 0;
  if (hi > kMax / kE) return kMax;
  const std::int64_t base = hi * kE;
  return lo > kMax - base ? kMax : base + lo;
}

Task<void> compensate(RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args,
                      std::chrono::milliseconds budget) {
  const auto until = std::chrono::steady_clock::now() + budget;
  auto delay = std::chrono::milliseconds(50);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    auto r = co_await client.eval(cancel_script(), keys, args);
    if (r.ok() || r.error().message.find("shutting down") != std::string::npos) co_return;
    if (std::chrono::steady_clock::now() + delay > until) co_return;
    timer.expires_after(delay);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    delay = std::min(delay * 2, std::chrono::milliseconds(1000));
  }
}

}  // namespace

bool RedisVelocityCounters::exact_window(std::int64_t window_ms) const {
  return window_ms <= options_.exact_window_max.count() || bucket_width_ms(window_ms, false) == 0;
}

std::int64_t RedisVelocityCounters::bucket_width_ms(std::int64_t window_ms, bool exact) {
  static constexpr std::array<std::int64_t, 21> kWidths = {
      1000,   2000,    5000,    10000,   15000,   20000,    30000,    60000,    120000,   300000,  600000,
      900000, 1200000, 1800000, 3600000, 7200000, 10800000, 14400000, 21600000, 43200000, 86400000};
  if (window_ms < kWidths[0]) return 0;
  const std::int64_t per = exact ? 3600 : 60;
  std::int64_t best = exact ? kWidths[0] : 0;
  for (auto g : kWidths) {
    if (g * per <= window_ms) best = g;
  }
  return best;
}

RedisVelocityCounters::RedisVelocityCounters(RedisClient& client, RedisVelocityCountersOptions options)
    : client_(client), options_(std::move(options)) {}

std::string RedisVelocityCounters::redis_key(VelocityKey key, std::string_view value, std::string_view part) const {
  std::string out;
  const char* name = kKeyNames[static_cast<std::size_t>(key)];
  out.reserve(options_.key_prefix.size() + value.size() + part.size() + 16);
  out += options_.key_prefix;
  out += '{';
  out += name;
  out += ':';
  out += value;
  out += "}:";
  out += part;
  return out;
}

Task<Result<VelocityRead>> RedisVelocityCounters::read_and_record(const VelocityEventInput& input,
                                                                  std::span<const VelocityQuery> queries) {
  co_return co_await read_and_record(input, queries, nullptr);
}

Task<Result<VelocityRead>> RedisVelocityCounters::read_and_record(const VelocityEventInput& input,
                                                                  std::span<const VelocityQuery> queries,
                                                                  RedisVelocityEpoch* epoch) {
  if (epoch != nullptr) *epoch = RedisVelocityEpoch{};
  auto invalid = [](std::string why) { return make_error("internal", "velocity counters: " + std::move(why)); };
  const std::int64_t at = std::chrono::duration_cast<std::chrono::milliseconds>(input.at.time_since_epoch()).count();
  if (input.amount < 0) co_return invalid("amount < 0");
  if (input.currency.size() > 16 || !std::all_of(input.currency.begin(), input.currency.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      })) {
    co_return invalid("bad currency (at most 16 letters, digits, '_' or '-')");
  }
  if (at > kMaxAbsAtMs || at < -kMaxAbsAtMs) co_return invalid("time out of range");
  for (const auto& q : queries) {
    if (q.window_ms <= 0 || q.window_ms > kMaxWindowMs) co_return invalid("window out of range");
    if (static_cast<std::size_t>(q.key) >= kVelocityKeyCount) co_return invalid("unknown key");
  }

  VelocityRead read;
  read.totals.assign(queries.size(), std::nullopt);

  // The present key values, in VelocityKey order, with what each needs kept: one hash per distinct window.
  struct Window {
    std::int64_t window;
    std::int64_t width;
    bool exact;
  };
  struct KeyValue {
    std::size_t key;
    std::int64_t event_retention;
    std::vector<Window> windows;
  };
  std::vector<KeyValue> kvs;
  std::array<int, kVelocityKeyCount> kv_of{};  // 1-based index into kvs, 0: absent
  const std::int64_t grace = options_.grace.count();
  for (std::size_t k = 0; k < kVelocityKeyCount; ++k) {
    if (!input.keys[k]) continue;
    KeyValue kv{k, options_.min_event_retention.count(), {}};
    for (const auto& q : queries) {
      if (static_cast<std::size_t>(q.key) != k) continue;
      const bool exact = exact_window(q.window_ms);
      if (exact) kv.event_retention = std::max(kv.event_retention, q.window_ms);
      const std::int64_t g = bucket_width_ms(q.window_ms, exact);
      if (g == 0) continue;  // below a second: the events alone
      const std::int64_t w = q.window_ms;
      if (std::none_of(kv.windows.begin(), kv.windows.end(), [w](const Window& x) { return x.window == w; })) {
        kv.windows.push_back(Window{w, g, exact});
      }
    }
    kv.event_retention += grace;
    kvs.push_back(std::move(kv));
    kv_of[k] = static_cast<int>(kvs.size());
  }
  if (kvs.empty()) co_return read;  // nothing to record, every query answers nullopt

  const std::string id = random_id();
  const std::string amount = std::to_string(input.amount);
  std::vector<std::string> keys;
  std::vector<std::string> args{id, std::to_string(at), input.currency, amount, std::to_string(kvs.size())};
  auto ticket = std::make_shared<RedisTicket>();
  ticket->args = {id + ":" + input.currency + ":" + amount, std::to_string(at), id,
                  std::to_string(options_.tombstone_ttl.count()), std::to_string(kvs.size())};
  for (const auto& kv : kvs) {
    const auto key = static_cast<VelocityKey>(kv.key);
    const std::string& value = *input.keys[kv.key];
    keys.push_back(redis_key(key, value, "e"));
    keys.push_back(redis_key(key, value, "x"));
    args.push_back(std::to_string(kv.event_retention));
    args.push_back(std::to_string(kv.windows.size()));
    ticket->args.push_back(std::to_string(kv.windows.size()));
    for (const auto& w : kv.windows) {
      keys.push_back(redis_key(key, value, "w" + std::to_string(w.window)));
      args.push_back(std::to_string(w.window));
      args.push_back(std::to_string(w.width));
      args.push_back(w.exact ? "1" : "0");
      args.push_back(std::to_string(w.window + w.width + grace));  // TTL
      ticket->args.push_back(std::to_string(w.width));
    }
  }
  ticket->keys = keys;
  const bool with_epoch = !options_.epoch_key.empty();
  if (with_epoch) keys.push_back(options_.epoch_key);  // after the ticket's: cancel does not touch it

  std::vector<std::size_t> asked;  // query index per script query
  std::vector<std::string> qargs;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    const auto k = static_cast<std::size_t>(queries[i].key);
    if (kv_of[k] == 0) continue;
    const KeyValue& kv = kvs[kv_of[k] - 1];
    const std::int64_t w = queries[i].window_ms;
    std::size_t slot = 0;
    for (std::size_t j = 0; j < kv.windows.size(); ++j) {
      if (kv.windows[j].window == w) slot = j + 1;
    }
    qargs.push_back(std::to_string(kv_of[k]));
    qargs.push_back(std::to_string(slot));
    qargs.push_back(std::to_string(w));
    qargs.push_back(exact_window(w) ? "1" : "0");
    asked.push_back(i);
  }
  args.push_back(std::to_string(asked.size()));
  for (auto& a : qargs) args.push_back(std::move(a));

  RedisCallInfo info;
  auto reply = co_await client_.eval(record_script(), std::move(keys), std::move(args), &info);
  if (!reply.ok()) {
    if (info.maybe_executed) {
      // The script may have run (a timeout or a lost connection after sending): cancel it in the background. A
      // cancel that arrives first leaves a tombstone that stops the record.
      asio::co_spawn(client_.executor(), compensate(client_, ticket->keys, ticket->args, options_.compensation_budget),
                     asio::detached);
    }
    co_return std::move(reply).take_error();
  }
  if (!reply->is_array() || reply->elements.size() != asked.size() + (with_epoch ? 1 : 0)) {
    co_return make_error("internal", "velocity counters: unexpected reply from Redis");
  }
  bool recorded = true;
  if (with_epoch) {
    const RedisValue& e = reply->elements.back();
    std::optional<std::int64_t> emptied_at;
    if (e.is_array() && e.elements.size() == 3 && e.elements[0].type == RedisValue::Type::kString) {
      emptied_at = parse_int64(e.elements[0].str);
    }
    if (!emptied_at) co_return make_error("internal", "velocity counters: unexpected reply from Redis");
    recorded = e.elements[2].integer == 1;
    if (epoch != nullptr) {
      epoch->known = true;
      epoch->emptied_at = domain::TimePoint(std::chrono::milliseconds(*emptied_at));
      epoch->detected = e.elements[1].integer == 1;
      epoch->recorded = recorded;
    }
  }
  for (std::size_t j = 0; j < asked.size(); ++j) {
    const RedisValue& t = reply->elements[j];
    if (!t.is_array() || t.elements.size() != 3) {
      co_return make_error("internal", "velocity counters: unexpected reply from Redis");
    }
    read.totals[asked[j]] =
        VelocityTotals{t.elements[0].integer, saturated(t.elements[1].integer, t.elements[2].integer)};
  }
  if (!recorded) co_return read;  // older than the epoch: nothing to cancel (empty ticket)
  read.ticket.id = id_number(id);
  read.ticket.state = std::move(ticket);
  co_return read;
}

Task<Status> RedisVelocityCounters::cancel(const VelocityTicket& ticket) {
  if (ticket.id == 0) co_return Ok{};
  auto* state = dynamic_cast<const RedisTicket*>(ticket.state.get());
  if (state == nullptr) co_return make_error("internal", "velocity counters: not a ticket of the Redis counters");
  auto r = co_await client_.eval(cancel_script(), state->keys, state->args);
  if (!r.ok()) co_return std::move(r).take_error();
  co_return Ok{};
}

Task<Result<bool>> RedisVelocityCounters::mark_epoch_if_empty(domain::TimePoint now) {
  if (options_.epoch_key.empty()) co_return false;
  std::vector<std::string> keys{options_.epoch_key};
  std::vector<std::string> args{std::to_string(now.time_since_epoch().count())};
  auto r = co_await client_.eval(mark_empty_script(), std::move(keys), std::move(args));
  if (!r.ok()) co_return std::move(r).take_error();
  co_return r->integer == 1;
}

}  // namespace txv::cache
