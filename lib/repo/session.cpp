// SPDX-License-Identifier: MIT
#include "quarry/core/session.hpp"

#include <random>

#include <algorithm>
#include <stdexcept>

#include "quarry/core/mix.hpp"
#include "quarry/errors.hpp"

namespace quarry::core {

Session::Session(std::unique_ptr<Connection> connection, std::size_t cache_capacity)
    : connection_(std::move(connection)), capacity_(cache_capacity ? cache_capacity : 1) {
    params_.reserve(16);
}

Session::~Session() {
    if (depth_ > 0) {
        depth_ = 1;
        rollback();
    }
}

Session::Entry* Session::find(std::uint64_t key) {
    auto hit = index_.find(key);
    if (hit == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, hit->second);
    ++stats_.hits;
    return &*hit->second;
}

Session::Entry& Session::add(std::uint64_t key, const std::string& sql, ParamPlan plan) {
    auto prepared = connection_->prepare(sql);  // throws before the cache changes
    ++stats_.misses;
    if (lru_.size() >= capacity_) {
        index_.erase(lru_.back().key);
        lru_.pop_back();
    }
    lru_.push_front(Entry{key, std::move(prepared), std::move(plan), sql, {}});
    index_[key] = lru_.begin();
    return lru_.front();
}

void Session::collect(const Node& statement, const Entry& e) {
    if (!collect_params(statement, e.plan, params_)) render_into(statement, dialect(), nullptr, params_);
}

namespace {
using Clock = std::chrono::steady_clock;
Clock::time_point now_if(bool on) { return on ? Clock::now() : Clock::time_point{}; }

// The table a statement reads or writes, for telemetry.
std::string_view source_of(const Node& n) {
    const Node* root = &n;
    while (root->parent) root = root->parent;
    if (root->table) return root->table->name;
    if (!root->subs().empty()) return source_of(*root->subs()[0]);
    return {};
}
}  // namespace

Statement& Session::bind(Entry& e, const std::vector<Value>& params, bool hit, Clock::time_point start) {
    check_open(e.sql);  // every statement run* runs passes here
    if (!sink_) {
        e.statement->bind(params);
        return *e.statement;
    }
    const auto bound_at = Clock::now();
    e.statement->bind(params);
    pending_ = QueryEvent{};
    pending_.sql = e.sql;
    pending_.params = static_cast<std::uint32_t>(params.size());
    pending_.source = e.source;
    pending_.cache_hit = hit;
    pending_.prepare = hit ? std::chrono::nanoseconds(0) : bound_at - start;
    pending_.execute = Clock::now() - bound_at;
    return *e.statement;
}

void Session::emit(const QueryEvent& e) const noexcept {
    try {
        sink_(e);
    } catch (...) {
        // A sink that throws must not turn a successful statement into a failure.
    }
}

void Session::refuse(std::string_view sql) { throw TransactionAborted(std::string(sql)); }

Statement& Session::run(const Node& statement) {
    const auto start = now_if(telemetry_on());
    const std::uint64_t key = cache_key(statement, dialect());
    params_.clear();
    if (Entry* e = find(key)) {
        collect(statement, *e);
        return bind(*e, params_, true, start);
    }
    std::string sql;
    ParamPlan plan;
    render_into(statement, dialect(), &sql, params_, &plan);
    Entry& e = add(key, sql, std::move(plan));
    e.source = source_of(statement);
    return bind(e, params_, false, start);
}

Statement& Session::run_fixed(std::uint64_t tag, const ParamList& values, BuildFn build, const void* context) {
    const auto start = now_if(telemetry_on());
    params_.assign(values.begin(), values.end());
    // A parameter's kind can change the SQL (and a prepared statement's parameter types), as
    // it does in a shape key: NULL in an optional column is a different statement.
    std::uint64_t key = mix(tag, 0xf1eed);
    for (const Value& v : params_) key = mix(key, static_cast<std::uint64_t>(v.kind));
    if (Entry* e = find(key)) return bind(*e, params_, true, start);
    const NodePtr statement = build(context);
    std::string sql;
    std::vector<Value> rendered;
    render_into(*statement, dialect(), &sql, rendered);
    // Reals compare by bits: a NaN is bound as itself.
    auto same = [](const Value& a, const Value& b) { return a.kind == ValueKind::real ? b.kind == a.kind && a.i == b.i : a == b; };
    if (!std::equal(rendered.begin(), rendered.end(), params_.begin(), params_.end(), same))
        throw std::logic_error("quarry: a fixed statement binds its parameters in another order than it renders them: " + sql);
    Entry& e = add(key, sql, ParamPlan{});
    e.source = source_of(*statement);
    return bind(e, params_, false, start);
}

namespace {
std::uint64_t text_hash(std::string_view s) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h;
}
}  // namespace

Statement& Session::run_wrapped(const Node& statement, std::string_view before, std::string_view after) {
    const auto start = now_if(telemetry_on());
    const std::uint64_t key = mix(mix(cache_key(statement, dialect()), text_hash(before)), text_hash(after) ^ 0x77a1);
    params_.clear();
    if (Entry* e = find(key)) {
        collect(statement, *e);
        return bind(*e, params_, true, start);
    }
    std::string sql(before);
    std::string inner;
    ParamPlan plan;
    render_into(statement, dialect(), &inner, params_, &plan);
    sql += inner;
    sql += after;
    Entry& e = add(key, sql, std::move(plan));
    e.source = source_of(statement);
    return bind(e, params_, false, start);
}

Statement& Session::run_sql(std::string_view sql, const std::vector<Value>& params) {
    const auto start = now_if(telemetry_on());
    const std::uint64_t key = mix(text_hash(sql), 0x5ca1ab1e);
    Entry* e = find(key);
    const bool hit = e != nullptr;
    if (!e) {
        std::string text;
        std::uint32_t n = 0;
        char buf[Dialect::max_placeholder];
        for (std::size_t k = 0; k < sql.size(); ++k) {
            if (sql[k] != '?') {
                text += sql[k];
            } else if (k + 1 < sql.size() && sql[k + 1] == '?') {
                text += '?';
                ++k;
            } else {
                text.append(buf, dialect().placeholder(buf, ++n));
            }
        }
        e = &add(key, text, ParamPlan{});
        e->marks = n;
    }
    // Checked on every run, not only the first: PostgreSQL would answer a wrong count with a
    // protocol error (08P01) that reads as a lost connection.
    if (e->marks != params.size())
        throw QueryError("raw SQL has " + std::to_string(e->marks) + " ? marks and " + std::to_string(params.size()) +
                         " arguments: " + std::string(sql));
    return bind(*e, params, hit, start);
}

Session::OpenStream Session::open_stream(const Node& statement, std::uint32_t batch) {
    OpenStream s;
    s.timed = telemetry_on();
    const auto start = now_if(s.timed);
    std::vector<Value> params;
    render_into(statement, dialect(), &s.sql, params);
    check_open(s.sql);
    const auto rendered = now_if(s.timed);
    s.cursor = connection_->open_cursor(s.sql, params, batch, depth_ > 0);
    if (s.timed) {
        s.started = start;
        s.event.params = static_cast<std::uint32_t>(params.size());
        s.event.source = source_of(statement);
        s.event.prepare = rendered - start;
        s.event.execute = Clock::now() - rendered;
    }
    return s;
}

bool Session::next(OpenStream& s) {
    if (!s.cursor) return false;
    if (!s.timed) return s.cursor->next();
    const auto t0 = Clock::now();
    try {
        const bool more = s.cursor->next();
        s.event.execute += Clock::now() - t0;
        s.event.rows += more;
        return more;
    } catch (...) {
        s.event.failed = true;
        throw;
    }
}

void Session::end_stream(OpenStream& s) noexcept {
    if (!s.cursor) return;
    s.cursor.reset();
    if (!s.timed || !sink_) return;
    s.event.sql = s.sql;
    const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - s.started);
    s.event.decode = std::max(std::chrono::nanoseconds(0), elapsed - s.event.prepare - s.event.execute);
    emit(s.event);
    s.timed = false;
}

CacheStats Session::cache_stats() const noexcept {
    CacheStats s = stats_;
    s.size = lru_.size();
    return s;
}

namespace {
std::string savepoint_name(int depth) { return "quarry_savepoint_" + std::to_string(depth); }

std::string begin_sql(const Dialect& d, const TxOptions& o) {
    if (d.name() == "sqlite") {
        if (o.read_only || o.deferrable || (o.isolation != Isolation::default_ && o.isolation != Isolation::serializable))
            throw UnsupportedFeature("sqlite", "transaction options other than immediate (SQLite transactions are serializable)");
        return o.immediate ? "BEGIN IMMEDIATE" : "BEGIN";
    }
    std::string sql = "BEGIN";
    static constexpr const char* levels[] = {"", " ISOLATION LEVEL READ COMMITTED", " ISOLATION LEVEL REPEATABLE READ",
                                             " ISOLATION LEVEL SERIALIZABLE"};
    sql += levels[static_cast<int>(o.isolation)];
    if (o.read_only) sql += " READ ONLY";
    if (o.deferrable) sql += " DEFERRABLE";
    return sql;
}
}  // namespace

void Session::control(const std::string& sql) {
    if (!sink_) return connection_->execute(sql);
    QueryEvent e;
    e.sql = sql;
    const auto start = Clock::now();
    try {
        connection_->execute(sql);
    } catch (...) {
        e.failed = true;
        e.execute = Clock::now() - start;
        emit(e);
        throw;
    }
    e.execute = Clock::now() - start;
    emit(e);
}

void Session::set_statement_timeout(std::chrono::milliseconds t) {
    if (depth_ > 0) throw QueryError("set the statement timeout outside a transaction (a rollback would undo it on PostgreSQL)");
    connection_->set_statement_timeout(t);
    statement_timeout_ = t;
}

void Session::begin(const TxOptions& options) {
    const TxOptions defaults;
    if (depth_ > 0 && depth_ != sandbox_depth_ && (options.isolation != defaults.isolation || options.read_only || options.deferrable))
        throw QueryError("transaction options apply to the outermost transaction only (a nested one is a savepoint)");
    if (depth_ == 0) {
        control(begin_sql(dialect(), options));
    } else {
        const std::string sql = "SAVEPOINT " + savepoint_name(depth_);
        check_open(sql);
        control(sql);
    }
    ++depth_;
}

std::chrono::microseconds retry_pause(int attempt) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    const std::int64_t cap = std::min<std::int64_t>(1'000'000, std::int64_t{5000} << std::min(attempt, 20));
    return std::chrono::microseconds(std::uniform_int_distribution<std::int64_t>(0, cap)(rng));
}

void Session::commit() {
    if (depth_ == 0) throw QueryError("commit without a transaction");
    if (transaction_ended()) {
        // Nothing of it is left to commit; the caller's rollback() leaves the other levels.
        if (depth_ == 1) --depth_;
        refuse(depth_ == 0 ? "COMMIT" : "RELEASE SAVEPOINT " + savepoint_name(depth_ - 1));
    }
    if (depth_ == 1) {
        try {
            control("COMMIT");
        } catch (const ConnectionError& e) {
            --depth_;
            // Never sent (the connection was known to be lost before it): the server ends a
            // transaction whose session it loses, so nothing of it took effect.
            if (e.not_applied())
                throw ConnectionError(std::string("COMMIT not sent: the connection was lost earlier in the transaction, so "
                                                  "none of it took effect: ") +
                                          e.what(),
                                      true);
            // Otherwise the COMMIT may or may not have reached the server and taken effect.
            throw InDoubt(std::string("the connection broke during COMMIT; whether the transaction took effect is unknown: ") +
                              e.what(),
                          "COMMIT", "08006");
        }
    } else
        control("RELEASE SAVEPOINT " + savepoint_name(depth_ - 1));
    --depth_;
}

void Session::rollback() noexcept {
    if (depth_ == 0) return;
    try {
        // A transaction the database ended has no savepoints left and needs no ROLLBACK.
        if (!transaction_ended()) {
            if (depth_ == 1) {
                control("ROLLBACK");
            } else {
                const std::string sp = savepoint_name(depth_ - 1);
                control("ROLLBACK TO SAVEPOINT " + sp);
                control("RELEASE SAVEPOINT " + sp);
            }
        }
    } catch (const Error&) {
        // Best effort while unwinding: a broken connection is the pool's to find.
    }
    --depth_;
}

}  // namespace quarry::core
