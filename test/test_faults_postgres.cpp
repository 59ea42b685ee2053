// SPDX-License-Identifier: MIT
// Fault tests on a PostgreSQL primary and a hot standby of it that scripts/test.sh (stage
// `faults`) starts for this test alone: backends killed under load, the server restarted fast
// and immediate under a bank-transfer workload, the standby stopped and started under reads.
// Each server is driven through scripts/pg.sh, named by QUARRY_PG_SCRIPT.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <pqxx/pqxx>
#include <quarry/migration.hpp>
#include <quarry/migrator.hpp>
#include <quarry/pool.hpp>
#include <quarry/repo.hpp>

using namespace quarry;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct FaultItem {
    std::int64_t id = 0;
    std::string name;
};
BOOST_HANA_ADAPT_STRUCT(FaultItem, id, name);
QUARRY_TABLE(FaultItem, "fault_items", &FaultItem::id);

struct Account {
    std::int64_t id = 0;
    std::int64_t balance = 0;
};
BOOST_HANA_ADAPT_STRUCT(Account, id, balance);
QUARRY_TABLE(Account, "accounts", &Account::id);

struct Transfer {
    std::string id;
    std::int64_t from_id = 0;
    std::int64_t to_id = 0;
    std::int64_t amount = 0;
};
BOOST_HANA_ADAPT_STRUCT(Transfer, id, from_id, to_id, amount);
QUARRY_TABLE(Transfer, "transfers", &Transfer::id);

// A view that says which server answered: true on the standby.
struct WhereAmI {
    std::int64_t id = 0;
    bool standby = false;
};
BOOST_HANA_ADAPT_STRUCT(WhereAmI, id, standby);
QUARRY_TABLE(WhereAmI, "where_am_i", &WhereAmI::id);

namespace {

struct Servers {
    std::string script, primary_dir, standby_dir, primary, standby;

    // pg.sh ARGS; fails the test when it fails.
    void pg(const std::string& args) const {
        const std::string cmd = "bash '" + script + "' " + args + " >/dev/null 2>&1";
        REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, cmd);
    }
};

std::string read_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

std::optional<Servers> servers() {
    const char* script = std::getenv("QUARRY_PG_SCRIPT");
    const char* p = std::getenv("QUARRY_FAULT_PRIMARY_DIR");
    const char* s = std::getenv("QUARRY_FAULT_STANDBY_DIR");
    if (!script || !p || !s) {
        const char* required = std::getenv("QUARRY_REQUIRE_FAULTS");
        if (required && std::string(required) == "1") FAIL("QUARRY_REQUIRE_FAULTS=1 but the fault servers are not named");
        MESSAGE("fault servers not set up: skipped (scripts/test.sh runs these in its `faults` stage)");
        return std::nullopt;
    }
    Servers out{script, p, s, read_line(std::string(p) + "/conninfo"), read_line(std::string(s) + "/conninfo")};
    pqxx::connection c(out.primary);
    pqxx::nontransaction tx(c);
    REQUIRE_MESSAGE(tx.exec("SHOW cluster_name")[0][0].as<std::string>() == "quarry_test",
                    "refusing to kill a server the tests did not start");
    return out;
}

void admin(const std::string& conninfo, const std::string& sql) {
    pqxx::connection c(conninfo);
    pqxx::nontransaction tx(c);
    tx.exec(sql);
}

std::int64_t scalar(const std::string& conninfo, const std::string& sql) {
    pqxx::connection c(conninfo);
    pqxx::nontransaction tx(c);
    return tx.exec(sql)[0][0].as<std::int64_t>();
}

int terminate(const std::string& conninfo, const std::string& app) {
    pqxx::connection c(conninfo);
    pqxx::nontransaction tx(c);
    return tx.exec("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = " + tx.quote(app))[0][0]
        .as<int>();
}

// Waits until `conninfo`'s server has replayed everything the primary wrote so far.
void wait_for_replay(const Servers& s) {
    const auto target = [&] {
        pqxx::connection c(s.primary);
        pqxx::nontransaction tx(c);
        return tx.exec("SELECT pg_current_wal_lsn()::text")[0][0].as<std::string>();
    }();
    for (int i = 0; i < 3000; ++i) {  // after a primary restart the standby reconnects within ~5 s
        pqxx::connection c(s.standby);
        pqxx::nontransaction tx(c);
        if (tx.exec("SELECT pg_last_wal_replay_lsn() >= " + tx.quote(target) + "::pg_lsn")[0][0].as<bool>()) return;
        std::this_thread::sleep_for(10ms);
    }
    FAIL("the standby did not catch up within 30 s");
}

std::int64_t ms_since(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

}  // namespace

TEST_CASE("faults: backends killed every second under 16-thread load: typed errors only, the pool heals within 1 s") {
    auto s = servers();
    if (!s) return;
    admin(s->primary, "DROP TABLE IF EXISTS fault_items; CREATE TABLE fault_items (id bigserial PRIMARY KEY, name text NOT NULL)");
    const std::string app = "quarry_faults_kill";
    Pool pool(s->primary + " application_name=" + app, {.max_size = 8, .acquire_timeout = 5000ms});
    Repo repo(pool);
    const auto seed = repo.insert(FaultItem{.name = "seed"});

    constexpr int threads = 16;
    std::atomic<bool> stop{false};
    std::atomic<long> ok{0}, typed{0}, untyped{0};
    std::atomic<std::int64_t> last_kill{0};  // steady-clock ns of the latest kill
    struct Heal {
        std::int64_t kill = 0, first_ok = 0;  // the latest kill this thread saw, its first success after it
    };
    std::vector<Heal> heal(threads);
    std::mutex message_m;
    std::set<std::string> messages;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            for (int i = 0; !stop; ++i) {
                try {
                    switch (i % 4) {
                        case 0: repo.insert(FaultItem{.name = "t" + std::to_string(t)}); break;
                        case 1: repo.all(from<FaultItem>() | order_by(desc(col(&FaultItem::id))) | limit(5)); break;
                        case 2: CHECK(repo.get<FaultItem>(seed.id).has_value()); break;
                        case 3:
                            repo.transaction([&](Repo& tx) {
                                auto row = tx.insert(FaultItem{.name = "tx"});
                                tx.update(FaultItem{.id = row.id, .name = "tx2"});
                            }, {.retries = 3});
                            break;
                    }
                    ++ok;
                    const auto now = Clock::now().time_since_epoch().count();
                    const auto k = last_kill.load();
                    if (k > heal[t].kill) heal[t] = {k, now};
                } catch (const Error& e) {
                    ++typed;
                    std::lock_guard lock(message_m);
                    messages.insert(std::string(typeid(e).name()) + ": " + std::string(e.what()).substr(0, 80));
                } catch (...) {
                    ++untyped;
                }
            }
        });
    int killed = 0;
    for (int k = 0; k < 5; ++k) {
        std::this_thread::sleep_for(1s);
        killed += terminate(s->primary, app);
        last_kill = Clock::now().time_since_epoch().count();
    }
    std::this_thread::sleep_for(1500ms);
    stop = true;
    for (auto& w : workers) w.join();

    const auto m = pool.metrics();
    MESSAGE("ok " << ok.load() << ", typed errors " << typed.load() << ", backends killed " << killed << ", broken " << m.broken
                  << ", failed health checks " << m.failed_health_checks << ", created " << m.created);
    for (const auto& text : messages) MESSAGE(text);
    CHECK(untyped == 0);
    CHECK(killed >= 5);  // something was really killed each time
    CHECK(ok > 1000);
    for (int t = 0; t < threads; ++t) {
        CHECK(heal[t].kill == last_kill.load());  // every thread succeeded after the last kill
        CHECK((heal[t].first_ok - heal[t].kill) / 1000000 <= 1000);
    }
    CHECK(m.state.total <= 8);
    CHECK(scalar(s->primary, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + app + "'") <= 8);
}

namespace {

// The bank: 10 accounts of 1000; transfers move money between two of them, recording an id.
struct Bank {
    static constexpr int accounts = 10;
    explicit Bank(Repo& r) : repo(r) {}
    Repo& repo;
    std::mutex m;
    std::vector<std::string> acknowledged, in_doubt;
    std::atomic<long> typed{0}, untyped{0};

    void transfer(std::mt19937& rng, const std::string& id) {
        std::uniform_int_distribution<int> pick(1, accounts), amount(1, 50);
        int a = pick(rng), b = pick(rng);
        if (a == b) b = a % accounts + 1;
        const std::int64_t amt = amount(rng);
        try {
            repo.transaction([&](Repo& tx) {
                // Lower id first: two transfers never wait for each other in a cycle.
                const int first = std::min(a, b), second = std::max(a, b);
                tx.execute(update_all(from<Account>() | where(col(&Account::id) == first), inc(&Account::balance, first == a ? -amt : amt)));
                tx.execute(update_all(from<Account>() | where(col(&Account::id) == second), inc(&Account::balance, second == a ? -amt : amt)));
                tx.insert(Transfer{.id = id, .from_id = a, .to_id = b, .amount = amt});
            }, {.retries = 20});
            std::lock_guard lock(m);
            acknowledged.push_back(id);
        } catch (const InDoubt&) {
            std::lock_guard lock(m);
            in_doubt.push_back(id);
        } catch (const Error&) {
            ++typed;  // the database is down (CircuitOpen, ConnectionError): a client backs off
            std::this_thread::sleep_for(5ms);
        } catch (...) {
            ++untyped;
        }
    }
};

}  // namespace

TEST_CASE("faults: PostgreSQL restarted fast and immediate under a bank-transfer workload: no acknowledged commit lost, no partial transfer") {
    auto s = servers();
    if (!s) return;
    admin(s->primary,
          "DROP TABLE IF EXISTS accounts, transfers; CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL);"
          "CREATE TABLE transfers (id text PRIMARY KEY, from_id bigint NOT NULL, to_id bigint NOT NULL, amount bigint NOT NULL);"
          "INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 10) g");
    Pool pool(s->primary + " application_name=quarry_faults_bank", {.max_size = 8, .acquire_timeout = 10000ms});
    Repo repo(pool);
    Bank bank(repo);
    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    for (int t = 0; t < 8; ++t)
        workers.emplace_back([&, t] {
            std::mt19937 rng(static_cast<unsigned>(t));
            for (int i = 0; !stop; ++i) bank.transfer(rng, std::to_string(t) + "-" + std::to_string(i));
        });
    auto acked = [&] {
        std::lock_guard lock(bank.m);
        return bank.acknowledged.size();
    };
    for (const std::string mode : {"fast", "immediate"}) {
        std::this_thread::sleep_for(1s);
        const auto before = acked();
        s->pg("restart '" + s->primary_dir + "' " + mode);
        const auto back = Clock::now();  // pg_ctl -w returned: the server accepts connections
        // The pool serves again within 2 s of the server.
        for (;;) {
            try {
                repo.count(from<Account>());
                break;
            } catch (const Error&) {
                REQUIRE(ms_since(back) < 2000);
                std::this_thread::sleep_for(10ms);
            }
        }
        const auto served_after = ms_since(back);
        MESSAGE(mode << " restart: the pool served again " << served_after << " ms after the server was back");
        CHECK(served_after < 2000);
        std::this_thread::sleep_for(1s);
        CHECK(acked() > before);  // transfers go on after the restart
    }
    stop = true;
    for (auto& w : workers) w.join();

    MESSAGE("acknowledged " << bank.acknowledged.size() << ", in doubt " << bank.in_doubt.size() << ", typed errors " << bank.typed.load());
    CHECK(bank.untyped == 0);
    CHECK(scalar(s->primary, "SELECT sum(balance) FROM accounts") == 10 * 1000);
    // Every acknowledged transfer is stored; every stored one was acknowledged or in doubt.
    std::set<std::string> stored;
    for (auto& t : repo.all(from<Transfer>())) stored.insert(t.id);
    std::size_t lost = 0;
    for (const auto& id : bank.acknowledged) lost += stored.count(id) == 0;
    CHECK(lost == 0);
    std::set<std::string> known(bank.acknowledged.begin(), bank.acknowledged.end());
    known.insert(bank.in_doubt.begin(), bank.in_doubt.end());
    std::size_t unexplained = 0;
    for (const auto& id : stored) unexplained += known.count(id) == 0;
    CHECK(unexplained == 0);
    // The money moved is exactly what the stored transfers say.
    CHECK(scalar(s->primary, "SELECT count(*) FROM accounts a WHERE a.balance <> 1000 - "
                             "coalesce((SELECT sum(amount) FROM transfers WHERE from_id = a.id), 0) + "
                             "coalesce((SELECT sum(amount) FROM transfers WHERE to_id = a.id), 0)") == 0);
}

TEST_CASE("faults: primary + hot standby: reads on the standby, writes on the primary, fall back with 0 failed reads, back within 2 s") {
    auto s = servers();
    if (!s) return;
    admin(s->primary,
          "DROP VIEW IF EXISTS where_am_i; DROP TABLE IF EXISTS fault_items;"
          "CREATE TABLE fault_items (id bigserial PRIMARY KEY, name text NOT NULL);"
          "CREATE VIEW where_am_i AS SELECT 1::bigint AS id, pg_is_in_recovery() AS standby");
    wait_for_replay(*s);
    Pool primary(s->primary, {.max_size = 4});
    Replicas replicas({s->standby}, {.pool = {.max_size = 4, .acquire_timeout = 2000ms}, .probe_interval = 100ms, .read_your_writes = true});
    Repo repo(primary, replicas);

    SUBCASE("reads hit the standby; writes and transactions the primary; read-your-writes") {
        CHECK(repo.one(from<WhereAmI>()).standby);
        repo.transaction([&](Repo& tx) { CHECK_FALSE(tx.one(from<WhereAmI>()).standby); });
        // Locking reads go to the primary.
        CHECK_FALSE(repo.one(from<WhereAmI>() | for_update()).standby);
        for (int i = 0; i < 50; ++i) {  // each read sees the write just made
            auto row = repo.insert(FaultItem{.name = "ryw" + std::to_string(i)});
            auto read = repo.get<FaultItem>(row.id);
            REQUIRE(read.has_value());
            CHECK(read->name == row.name);
        }
        CHECK(repo.one(from<WhereAmI>()).standby);  // and reads still go to the standby
    }

    SUBCASE("a write sent to the standby is ReadOnlyError") {
        auto pick = replicas.acquire_read();
        REQUIRE(pick.has_value());
        CHECK_THROWS_AS(core::StatementRun(*pick->lease, pick->lease->run_sql("INSERT INTO fault_items (name) VALUES ('x')", {})).step(),
                        ReadOnlyError);
        Repo on_standby(s->standby);
        CHECK_THROWS_AS(on_standby.insert(FaultItem{.name = "x"}), ReadOnlyError);
    }

    SUBCASE("standby stopped under 4 reading threads: 0 failed reads; started again: in rotation within 2 s") {
        std::atomic<bool> stop{false};
        std::atomic<long> reads{0}, failed{0}, on_standby{0};
        std::vector<std::thread> readers;
        for (int t = 0; t < 4; ++t)
            readers.emplace_back([&] {
                while (!stop) {
                    try {
                        on_standby += repo.one(from<WhereAmI>()).standby;
                        ++reads;
                    } catch (const std::exception& e) {
                        if (failed++ == 0) MESSAGE(std::string(e.what()));
                    }
                }
            });
        std::this_thread::sleep_for(500ms);
        const long standby_reads_before = on_standby;
        s->pg("halt '" + s->standby_dir + "' immediate");
        std::this_thread::sleep_for(1s);
        CHECK_FALSE(replicas.status()[0].in_rotation);
        MESSAGE("standby out of rotation: " << replicas.status()[0].last_error);
        const long reads_while_down = reads;
        std::this_thread::sleep_for(500ms);
        CHECK(reads > reads_while_down);  // the primary serves them
        s->pg("resume '" + s->standby_dir + "'");
        const auto back = Clock::now();
        while (!replicas.status()[0].in_rotation && ms_since(back) < 5000) std::this_thread::sleep_for(5ms);
        const auto rejoined = ms_since(back);
        MESSAGE("the standby was in rotation again " << rejoined << " ms after it came back");
        CHECK(rejoined < 2000);
        const long standby_reads = on_standby;
        std::this_thread::sleep_for(300ms);
        stop = true;
        for (auto& r : readers) r.join();
        CHECK(standby_reads_before > 0);
        CHECK(on_standby > standby_reads);  // reads hit the standby again
        CHECK(failed == 0);
        MESSAGE(reads.load() << " reads, " << on_standby.load() << " on the standby");
    }
}

namespace {

struct BouncerItem {
    std::int64_t id = 0;
    std::string name;
    std::int64_t hits = 0;
};

}  // namespace
BOOST_HANA_ADAPT_STRUCT(BouncerItem, id, name, hits);
QUARRY_TABLE(BouncerItem, "bouncer_items", &BouncerItem::id);

namespace {

// Every Repo function a service uses, from several threads at once; returns the errors seen.
long bouncer_workload(Repo& repo, int threads, int rounds, std::string& first_error) {
    std::atomic<long> errors{0};
    std::mutex m;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            for (int i = 0; i < rounds; ++i) {
                try {
                    auto row = repo.insert(BouncerItem{.name = "t" + std::to_string(t)});
                    auto got = repo.get<BouncerItem>(row.id);
                    if (!got || got->name != row.name) throw std::runtime_error("get returned the wrong row");
                    row.hits = i;
                    repo.update(row);
                    const auto mine = repo.all(from<BouncerItem>() | where(col(&BouncerItem::name) == row.name) | limit(10));
                    if (mine.empty()) throw std::runtime_error("all missed a row");
                    if (!repo.exists(from<BouncerItem>() | where(col(&BouncerItem::id) == row.id))) throw std::runtime_error("exists");
                    repo.count(from<BouncerItem>());
                    repo.transaction([&](Repo& tx) {
                        auto other = tx.insert(BouncerItem{.name = "tx"});
                        other.hits = 1;
                        tx.update(other);
                        tx.remove(other);
                    });
                    long streamed = 0;
                    for (const auto& r : repo.stream(from<BouncerItem>() | limit(20), 7)) streamed += r.id > 0;
                    if (streamed == 0) throw std::runtime_error("the stream read nothing");
                    repo.remove(row);
                } catch (const std::exception& e) {
                    if (errors++ == 0) {
                        std::lock_guard lock(m);
                        first_error = e.what();
                    }
                }
            }
        });
    for (auto& w : workers) w.join();
    return errors;
}

}  // namespace

TEST_CASE("PgBouncer in transaction pooling mode: the Repo's functions work with pgbouncer=true") {
    const char* bouncer = std::getenv("QUARRY_PGBOUNCER");
    if (!bouncer || !*bouncer) {
        const char* required = std::getenv("QUARRY_REQUIRE_FAULTS");
        if (required && std::string(required) == "1") FAIL("QUARRY_REQUIRE_FAULTS=1 but QUARRY_PGBOUNCER is not set");
        MESSAGE("QUARRY_PGBOUNCER not set: skipped (scripts/test.sh runs this in its `faults` stage)");
        return;
    }
    admin(bouncer, "DROP TABLE IF EXISTS bouncer_items; CREATE TABLE bouncer_items "
                   "(id bigserial PRIMARY KEY, name text NOT NULL, hits bigint NOT NULL DEFAULT 0)");
    {
        // 6 clients share PgBouncer's 2 server connections: consecutive transactions of one
        // client land on either.
        Pool pool(std::string(bouncer) + " pgbouncer=true", {.max_size = 6});
        Repo repo(pool);
        std::string first_error;
        CHECK_MESSAGE(bouncer_workload(repo, 6, 100, first_error) == 0, first_error);
        CHECK(repo.count(from<BouncerItem>()) == 0);  // every row removed again
    }
    {
        // Writes made while a stream is read, one of them failing, are each their own
        // transaction: none is lost with the stream.
        Repo repo(std::string(bouncer) + " pgbouncer=true");
        for (int i = 0; i < 5; ++i) repo.insert(BouncerItem{.name = "seed"});
        int written = 0;
        for (const auto& row : repo.stream(from<BouncerItem>() | where(col(&BouncerItem::name) == "seed"), 2)) {
            repo.insert(BouncerItem{.name = "copy", .hits = row.id});
            ++written;
            CHECK_THROWS_AS(repo.execute_sql("INSERT INTO bouncer_items (id, name) VALUES (?, 'duplicate')", row.id), ConstraintError);
        }
        CHECK(written == 5);
        CHECK(repo.count(from<BouncerItem>() | where(col(&BouncerItem::name) == "copy")) == 5);
        repo.execute(delete_all(from<BouncerItem>()));
    }
    // The control: with server-side prepared statements the same workload breaks, so the mode
    // is what makes it work.
    {
        Pool pool(bouncer, {.max_size = 6});
        Repo repo(pool);
        std::string first_error;
        const long errors = bouncer_workload(repo, 6, 20, first_error);
        MESSAGE("without pgbouncer=true: " << errors << " failed rounds, e.g. " << first_error);
        CHECK(errors > 0);
    }
    // What cannot work behind a transaction pooler is refused, not silently wrong.
    CHECK_THROWS_AS(Pool(std::string(bouncer) + " pgbouncer=true", {.statement_timeout = 100ms}), UnsupportedFeature);
    CHECK_THROWS_AS(Pool(std::string(bouncer) + " pgbouncer=maybe"), InvalidUrl);
    // Migrations are refused through the pooler: their session-level advisory lock would stay
    // held on one of its server connections after the run (it did, before this check).
    admin(bouncer, "DROP TABLE IF EXISTS schema_migrations; DROP TABLE IF EXISTS bouncer_migrated");
    const std::string advisory_locks = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'";
    const auto locks_before = scalar(bouncer, advisory_locks);
    const std::vector<Migration> ms{Migration(
        1, "bouncer_migrated", [](migrate::Plan& p) { p.create_table("bouncer_migrated", [](migrate::Table& t) { t.id(); }); })};
    try {
        Migrator(std::string(bouncer) + " pgbouncer=true", ms).migrate();
        FAIL("a migration ran through PgBouncer in transaction mode");
    } catch (const MigrationError& e) {
        CHECK(std::string(e.what()).find("direct PostgreSQL connection") != std::string::npos);
    }
    CHECK(scalar(bouncer, advisory_locks) == locks_before);
    CHECK(scalar(bouncer, "SELECT count(*) FROM pg_tables WHERE tablename = 'bouncer_migrated'") == 0);
}
