// SPDX-License-Identifier: MIT
#include "quarry/core/session.hpp"

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

Statement& Session::run(const Node& statement) {
    const Dialect& d = dialect();
    const std::uint64_t key = cache_key(statement, d);
    params_.clear();
    if (auto hit = index_.find(key); hit != index_.end()) {
        auto it = hit->second;
        if (!collect_params(statement, it->plan, params_)) render_into(statement, d, nullptr, params_);
        lru_.splice(lru_.begin(), lru_, it);
        ++stats_.hits;
        it->statement->bind(params_);
        return *it->statement;
    }
    std::string sql;
    ParamPlan plan;
    render_into(statement, d, &sql, params_, &plan);
    auto prepared = connection_->prepare(sql);
    ++stats_.misses;
    if (lru_.size() >= capacity_) {
        index_.erase(lru_.back().key);
        lru_.pop_back();
    }
    lru_.push_front(Entry{key, std::move(prepared), std::move(plan)});
    index_[key] = lru_.begin();
    lru_.front().statement->bind(params_);
    return *lru_.front().statement;
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

void Session::begin(const TxOptions& options) {
    if (depth_ == 0)
        connection_->execute(begin_sql(dialect(), options));
    else
        connection_->execute("SAVEPOINT " + savepoint_name(depth_));
    ++depth_;
}

void Session::commit() {
    if (depth_ == 0) throw QueryError("commit without a transaction");
    if (depth_ == 1)
        connection_->execute("COMMIT");
    else
        connection_->execute("RELEASE SAVEPOINT " + savepoint_name(depth_ - 1));
    --depth_;
}

void Session::rollback() noexcept {
    if (depth_ == 0) return;
    try {
        if (depth_ == 1) {
            connection_->execute("ROLLBACK");
        } else {
            const std::string sp = savepoint_name(depth_ - 1);
            connection_->execute("ROLLBACK TO SAVEPOINT " + sp);
            connection_->execute("RELEASE SAVEPOINT " + sp);
        }
    } catch (const Error&) {
        // The database already ended the transaction (e.g. SQLite rolls back on some errors).
    }
    --depth_;
}

}  // namespace quarry::core
