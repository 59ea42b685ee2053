// SPDX-License-Identifier: MIT
// The command line: parses with CLI11 (the only file that includes it) and drives the
// Migrator, the introspection functions and the templates.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/templates.hpp"
#include "quarry/cli.hpp"
#include "quarry/migrator.hpp"

namespace quarry::cli {

namespace {

enum Exit { ok = 0, failed = 1, usage = 2, pending_found = 3, edited_found = 4 };

struct Options {
    std::string database;
    std::string migrations_dir = "migrations";
    bool verbose = false;
    // migrate / rollback / redo
    std::optional<std::int64_t> to;
    std::optional<int> step;
    bool dry_run = false, allow_edited = false;
    std::string dialect;
    // status
    bool check = false;
    // new / gen / dump
    std::string name, table, struct_name, output;
    bool cpp = false;
};

// Now as YYYYMMDDHHMMSS (UTC): the conventional migration version.
std::int64_t timestamp_version() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
    return std::stoll(buf);
}

// The next free version at or after now, given those already in `dir`.
std::int64_t next_version(const std::string& dir) {
    std::int64_t v = timestamp_version();
    std::error_code ec;
    if (std::filesystem::is_directory(dir, ec))
        for (const auto& e : std::filesystem::directory_iterator(dir)) {
            const std::string n = e.path().filename().string();
            const auto us = n.find('_');
            if (us == std::string::npos) continue;
            try {
                v = std::max<std::int64_t>(v, std::stoll(n.substr(0, us)) + 1);
            } catch (const std::exception&) {
            }
        }
    return v;
}

void check_name(const std::string& name, const char* what) {
    if (name.empty()) throw CLI::ValidationError(std::string(what) + " must not be empty");
    for (char c : name)
        if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'))
            throw CLI::ValidationError(std::string(what) + " \"" + name + "\" must be snake_case (a-z, 0-9, _)");
}

std::string ms(std::chrono::nanoseconds d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(d.count()) / 1e6);
    return buf;
}

// A statement as a line of a script: without trailing space, ending with ';'.
std::string statement(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s.ends_with(';') ? s : s + ";";
}

// Progress lines: one when a migration starts, one when it ends with its time; its SQL with -v.
MigrationListener progress(bool verbose) {
    return [verbose](const MigrationEvent& e) {
        const std::string head = "== " + std::to_string(e.version) + " " + e.name + ": ";
        switch (e.kind) {
            case MigrationEvent::Kind::started:
                std::cout << head << (e.up ? "migrating" : "rolling back")
                          << (e.transactional ? "" : " (outside a transaction: it cannot be undone if it fails)") << std::endl;
                break;
            case MigrationEvent::Kind::statement:
                if (verbose) std::cout << "   " << statement(e.sql) << std::endl;
                break;
            case MigrationEvent::Kind::finished:
                std::cout << head << (e.up ? "migrated" : "rolled back") << " in " << ms(e.elapsed) << std::endl;
                break;
        }
    };
}

void print_sql(const std::vector<MigrationRun>& runs) {
    for (const auto& r : runs) {
        std::cout << "-- " << r.version << " " << r.name << (r.up ? "" : " (down)") << "\n";
        for (const auto& s : r.sql) std::cout << statement(s) << "\n";
    }
}

// The C++ migrations given to main, and the SQL files of the migrations directory.
std::vector<Migration> all_migrations(const std::vector<Migration>& given, const Options& o) {
    std::vector<Migration> all = given;
    std::error_code ec;
    if (std::filesystem::is_directory(o.migrations_dir, ec)) {
        auto files = load_sql_migrations(o.migrations_dir);
        all.insert(all.end(), files.begin(), files.end());
    }
    return all;
}

int run_status(Migrator& m, const Options& o) {
    const auto st = m.status();
    int code = ok;
    std::printf("%-16s %-8s %-32s %s\n", "version", "state", "name", "applied at");
    for (const auto& s : st) {
        std::printf("%-16lld %-8s %-32s %s\n", static_cast<long long>(s.version), std::string(to_string(s.state)).c_str(),
                    s.name.c_str(), s.applied_at.c_str());
        if (s.state == MigrationState::pending && code == ok) code = pending_found;
        if (s.state == MigrationState::edited || s.state == MigrationState::missing) code = edited_found;
    }
    if (st.empty()) std::printf("(no migrations)\n");
    return o.check ? code : ok;
}

// The file an sqlite: URL names, when there is no such file yet; empty for anything else.
std::string missing_sqlite_file(const std::string& url) {
    if (!url.starts_with("sqlite:")) return {};
    const std::string path = url.substr(7, url.find('?') == std::string::npos ? std::string::npos : url.find('?') - 7);
    if (path.empty() || path == ":memory:") return {};
    std::error_code ec;
    return std::filesystem::exists(path, ec) || ec ? std::string{} : path;
}

void report(const std::exception& e, int level = 0) {
    std::cerr << (level == 0 ? "quarry: error: " : "  caused by: ") << e.what() << "\n";
    try {
        std::rethrow_if_nested(e);
    } catch (const std::exception& inner) {
        report(inner, level + 1);
    }
}

}  // namespace

int main(int argc, char** argv, std::vector<Migration> given) {
    CLI::App app{"quarry: migrations and schema tools (docs/cli.md)", "quarry"};
    app.require_subcommand(1);
    Options o;
    const char* env_url = std::getenv("QUARRY_DATABASE_URL");
    o.database = env_url && *env_url ? env_url : "sqlite:quarry.db";
    app.add_option("-d,--database", o.database, "database URL: sqlite:FILE, postgres://... (default: $QUARRY_DATABASE_URL or sqlite:quarry.db)");
    auto* migrations_opt =
        app.add_option("-m,--migrations", o.migrations_dir, "directory of SQL-file migrations")->capture_default_str();
    app.add_flag("-v,--verbose", o.verbose, "print each migration's SQL as it runs");

    auto* migrate = app.add_subcommand("migrate", "apply pending migrations, in version order");
    migrate->add_option("--to", o.to, "apply up to and including this version");
    migrate->add_option("--step", o.step, "apply at most N migrations")->check(CLI::Range(1, 1000000));
    migrate->add_flag("--dry-run", o.dry_run, "print the SQL; change nothing (runs in a transaction that is rolled back)");
    migrate->add_option("--dialect", o.dialect, "with --dry-run: render every migration for this dialect, without a database")
        ->check(CLI::IsMember({"sqlite", "postgres"}));
    migrate->add_flag("--allow-edited", o.allow_edited, "run even though an applied migration was edited");

    auto* rollback = app.add_subcommand("rollback", "undo the last applied migrations");
    auto* step_opt = rollback->add_option("--step", o.step, "undo the last N (default 1)")->check(CLI::Range(1, 1000000));
    rollback->add_option("--to", o.to, "undo every migration above this version")->excludes(step_opt);
    rollback->add_flag("--dry-run", o.dry_run, "print the SQL; change nothing");
    rollback->add_flag("--allow-edited", o.allow_edited, "run even though an applied migration was edited");

    auto* redo = app.add_subcommand("redo", "undo and re-apply the last migrations");
    redo->add_option("--step", o.step, "the last N (default 1)")->check(CLI::Range(1, 1000000));
    redo->add_flag("--allow-edited", o.allow_edited, "run even though an applied migration was edited (edit, then redo)");

    auto* status = app.add_subcommand("status", "list migrations: applied, pending, edited, missing");
    status->add_flag("--check", o.check, "exit 3 if some are pending, 4 if some were edited or are missing");

    auto* dump = app.add_subcommand("dump", "print the schema as SQL");
    dump->add_option("-o,--output", o.output, "write to this file instead");

    auto* gen = app.add_subcommand("gen", "generate code from the live schema");
    gen->require_subcommand(1);
    auto* model = gen->add_subcommand("model", "print a C++ struct and its quarry declaration for a table");
    model->add_option("-t,--table", o.table, "the table")->required();
    model->add_option("-n,--name", o.struct_name, "the struct's name (default: from the table's name)");
    model->add_option("-o,--output", o.output, "write to this file instead");

    auto* create = app.add_subcommand("new", "create a migration or a project");
    create->require_subcommand(1);
    auto* new_mig = create->add_subcommand("migration", "create migrations/<version>_<name>/ with up.sql and down.sql");
    new_mig->add_option("name", o.name, "snake_case name")->required();
    new_mig->add_flag("--cpp", o.cpp, "write a C++ migration header instead");
    auto* new_proj = create->add_subcommand("project", "create a project: meson.build, schema, migrations, a sandboxed test");
    new_proj->add_option("name", o.name, "directory to create")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);  // --help
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return usage;
    }

    try {
        if (new_mig->parsed()) {
            check_name(o.name, "migration name");
            std::cout << "created " << new_migration(o.migrations_dir, o.name, o.cpp, next_version(o.migrations_dir)) << "\n";
            return ok;
        }
        if (new_proj->parsed()) {
            for (const auto& f : new_project(o.name, timestamp_version())) std::cout << "created " << f << "\n";
            return ok;
        }
        // Without -m, a project may have no migrations directory; a directory named on the
        // command line that is not there is a typo, which would otherwise migrate nothing.
        std::error_code ec;
        if (migrations_opt->count() > 0 && !std::filesystem::is_directory(o.migrations_dir, ec))
            throw CLI::ValidationError("--migrations: no directory \"" + o.migrations_dir + "\"");
        const auto migrations = all_migrations(given, o);
        if (migrate->parsed() && o.dry_run && !o.dialect.empty()) {
            print_sql(render_migrations(migrations, o.dialect == "postgres" ? core::postgres() : core::sqlite()));
            return ok;
        }
        if (!o.dialect.empty()) throw CLI::ValidationError("--dialect goes with --dry-run");

        // Opening an SQLite file that is not there creates it: a mistyped --database would
        // show as a database with nothing applied, and be left behind. Only migrate creates it.
        std::string database = o.database;
        if (const auto missing = missing_sqlite_file(o.database); !missing.empty() && !(migrate->parsed() && !o.dry_run)) {
            if (!status->parsed() && !migrate->parsed())
                throw CLI::ValidationError("--database: no SQLite database at \"" + missing +
                                           "\" (check the path; migrate creates it)");
            std::cerr << "quarry: no SQLite database at \"" << missing << "\" yet: shown as empty (migrate creates it)\n";
            database = "sqlite::memory:";
        }
        Migrator m(database, migrations);
        if (migrate->parsed()) {
            MigrateOptions mo;
            mo.to = o.to;
            mo.steps = o.step;
            mo.dry_run = o.dry_run;
            mo.allow_edited = o.allow_edited;
            if (!o.dry_run) mo.on_event = progress(o.verbose);
            const auto runs = m.migrate(mo);
            if (o.dry_run) print_sql(runs);
            else std::cout << (runs.empty() ? "nothing to migrate" : "migrated " + std::to_string(runs.size())) << "\n";
            return ok;
        }
        if (rollback->parsed()) {
            RollbackOptions ro;
            ro.steps = o.step.value_or(1);
            ro.to = o.to;
            ro.dry_run = o.dry_run;
            ro.allow_edited = o.allow_edited;
            if (!o.dry_run) ro.on_event = progress(o.verbose);
            const auto runs = m.rollback(ro);
            if (o.dry_run) print_sql(runs);
            else std::cout << (runs.empty() ? "nothing to roll back" : "rolled back " + std::to_string(runs.size())) << "\n";
            return ok;
        }
        if (redo->parsed()) {
            const auto runs = m.redo(o.step.value_or(1), progress(o.verbose), o.allow_edited);
            std::cout << "redone " << runs.size() / 2 << "\n";
            return ok;
        }
        if (status->parsed()) return run_status(m, o);
        std::string text;
        if (dump->parsed()) text = dump_schema(m.session());
        if (model->parsed()) {
            std::vector<ModelColumn> cols;
            for (const auto& c : describe_table(m.session(), o.table))
                cols.push_back({c.name, c.type, c.nullable, c.primary_key, c.generated});
            text = generate_model(o.table, cols, o.struct_name);
        }
        if (o.output.empty()) {
            std::cout << text;
        } else {
            std::ofstream out(o.output, std::ios::binary);
            out << text;
            if (!out) throw MigrationError("cannot write " + o.output);
        }
        return ok;
    } catch (const CLI::ValidationError& e) {
        std::cerr << "quarry: " << e.what() << "\n";
        return usage;
    } catch (const std::exception& e) {
        report(e);
        return failed;
    }
}

}  // namespace quarry::cli
