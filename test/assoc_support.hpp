// SPDX-License-Identifier: MIT
// Associations, shared by the SQLite and PostgreSQL tests: preloads (one query per level,
// filtered, ordered, top N per owner, nested), composite keys, queries and joins through
// associations, soft-deleted rows left out.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <quarry/assoc.hpp>
#include <quarry/changeset.hpp>
#include <quarry/changeset_json.hpp>

#include "repo_support.hpp"

struct Writer;
struct Comment {
    std::int64_t id = 0;
    std::int64_t article_id = 0;
    std::string body{};
    int rank = 0;
    std::optional<timestamp> deleted_at{};
};
struct Tag {
    std::int64_t id = 0;
    std::string name{};
};
struct ArticleTag {
    std::int64_t article_id = 0;
    std::int64_t tag_id = 0;
};
struct Article {
    std::int64_t id = 0;
    std::optional<std::int64_t> writer_id{};
    std::string title{};
    std::shared_ptr<Writer> writer{};     // belongs_to (Writer holds Articles: a shared_ptr breaks the cycle)
    std::vector<Comment> comments{};      // has_many
    std::optional<Comment> top_comment{};  // has_one (the first by the preload's order)
    std::vector<Tag> tags{};               // many_to_many through article_tags
};
struct Writer {
    std::int64_t id = 0;
    std::string name{};
    std::vector<Article> articles{};
};
// Composite keys: a shelf is (store, number); its books name both.
struct Shelf;
struct Book {
    std::int64_t id = 0;
    std::int64_t store = 0;
    std::int64_t shelf = 0;
    std::string title{};
    std::shared_ptr<Shelf> on{};
};
struct Shelf {
    std::int64_t store = 0;
    std::int64_t number = 0;
    std::string label{};
    std::vector<Book> books{};
};
BOOST_HANA_ADAPT_STRUCT(Comment, id, article_id, body, rank, deleted_at);
BOOST_HANA_ADAPT_STRUCT(Tag, id, name);
BOOST_HANA_ADAPT_STRUCT(ArticleTag, article_id, tag_id);
BOOST_HANA_ADAPT_STRUCT(Article, id, writer_id, title);  // associations need not be listed
BOOST_HANA_ADAPT_STRUCT(Writer, id, name, articles);     // ... but may be: they are not columns
BOOST_HANA_ADAPT_STRUCT(Shelf, store, number, label);
BOOST_HANA_ADAPT_STRUCT(Book, id, store, shelf, title);
QUARRY_TABLE(Comment, "comments", &Comment::id);
QUARRY_COLUMNS(Comment, quarry::field(&Comment::deleted_at).soft_delete());
QUARRY_TABLE(Tag, "tags", &Tag::id);
QUARRY_TABLE(ArticleTag, "article_tags", &ArticleTag::article_id, &ArticleTag::tag_id);
QUARRY_TABLE(Article, "articles", &Article::id);
QUARRY_TABLE(Writer, "writers", &Writer::id);
QUARRY_TABLE(Shelf, "shelves", &Shelf::store, &Shelf::number);
QUARRY_TABLE(Book, "books", &Book::id);
QUARRY_ASSOCIATIONS(Article, quarry::belongs_to(&Article::writer, &Article::writer_id),
                    quarry::has_many(&Article::comments, &Comment::article_id),
                    quarry::has_one(&Article::top_comment, &Comment::article_id),
                    quarry::many_to_many(&Article::tags, &ArticleTag::article_id, &ArticleTag::tag_id));
QUARRY_ASSOCIATIONS(Writer, quarry::has_many(&Writer::articles, &Article::writer_id));
QUARRY_ASSOCIATIONS(Shelf, quarry::has_many(&Shelf::books, &Book::store, &Book::shelf));
QUARRY_ASSOCIATIONS(Book, quarry::belongs_to(&Book::on, &Book::store, &Book::shelf));

inline constexpr const char* assoc_schema_sqlite =
    "CREATE TABLE writers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    "CREATE TABLE articles (id INTEGER PRIMARY KEY, writer_id INTEGER REFERENCES writers(id), title TEXT NOT NULL);"
    "CREATE TABLE comments (id INTEGER PRIMARY KEY, article_id INTEGER NOT NULL REFERENCES articles(id), body TEXT NOT NULL, "
    "rank INTEGER NOT NULL, deleted_at TEXT);"
    "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    "CREATE TABLE article_tags (article_id INTEGER NOT NULL, tag_id INTEGER NOT NULL, PRIMARY KEY (article_id, tag_id));"
    "CREATE TABLE shelves (store INTEGER NOT NULL, number INTEGER NOT NULL, label TEXT NOT NULL, PRIMARY KEY (store, number));"
    "CREATE TABLE books (id INTEGER PRIMARY KEY, store INTEGER NOT NULL, shelf INTEGER NOT NULL, title TEXT NOT NULL, "
    "FOREIGN KEY (store, shelf) REFERENCES shelves (store, number));";
inline constexpr const char* assoc_schema_postgres =
    "CREATE TABLE writers (id bigserial PRIMARY KEY, name text NOT NULL);"
    "CREATE TABLE articles (id bigserial PRIMARY KEY, writer_id bigint REFERENCES writers(id), title text NOT NULL);"
    "CREATE TABLE comments (id bigserial PRIMARY KEY, article_id bigint NOT NULL REFERENCES articles(id), body text NOT NULL, "
    "rank integer NOT NULL, deleted_at timestamptz);"
    "CREATE TABLE tags (id bigserial PRIMARY KEY, name text NOT NULL);"
    "CREATE TABLE article_tags (article_id bigint NOT NULL, tag_id bigint NOT NULL, PRIMARY KEY (article_id, tag_id));"
    "CREATE TABLE shelves (store bigint NOT NULL, number bigint NOT NULL, label text NOT NULL, PRIMARY KEY (store, number));"
    "CREATE TABLE books (id bigserial PRIMARY KEY, store bigint NOT NULL, shelf bigint NOT NULL, title text NOT NULL, "
    "FOREIGN KEY (store, shelf) REFERENCES shelves (store, number));";

namespace assoc_checks {

using namespace quarry;

// Statements run while it lives.
struct Counter {
    Repo& repo;
    int statements = 0;
    explicit Counter(Repo& r) : repo(r) {
        repo.set_telemetry([this](const QueryEvent&) { ++statements; });
    }
    ~Counter() { repo.set_telemetry({}); }
};

// 3 writers; writer k has k+1 articles; article j of a writer has j+2 comments (rank 0..),
// the last of which is soft-deleted; every article has tags "t0" and "t<its index>".
struct World {
    std::vector<Writer> writers;
    std::int64_t orphan_article = 0;
};
inline World populate(Repo& repo) {
    World w;
    std::vector<Tag> tags;
    for (int t = 0; t < 4; ++t) tags.push_back(repo.insert(Tag{0, "t" + std::to_string(t)}));
    for (int k = 0; k < 3; ++k) {
        Writer wr = repo.insert(Writer{0, "writer" + std::to_string(k), {}});
        for (int j = 0; j <= k; ++j) {
            Article a = repo.insert(Article{0, wr.id, "a" + std::to_string(k) + std::to_string(j), {}, {}, {}, {}});
            for (int c = 0; c < j + 2; ++c) {
                Comment cm = repo.insert(Comment{0, a.id, "c" + std::to_string(c), c, std::nullopt});
                if (c == j + 1) repo.remove(cm);  // soft-deleted
            }
            repo.insert(ArticleTag{a.id, tags[0].id});
            repo.insert(ArticleTag{a.id, tags[static_cast<std::size_t>(j + 1)].id});
        }
        w.writers.push_back(wr);
    }
    w.orphan_article = repo.insert(Article{0, std::nullopt, "orphan", {}, {}, {}, {}}).id;
    return w;
}

inline void preloads_run_one_query_per_level(Repo& repo) {
    populate(repo);
    auto writers = repo.all(from<Writer>() | order_by(asc(col(&Writer::id))));
    REQUIRE(writers.size() == 3);
    {
        Counter n(repo);
        repo.preload(writers, preload(&Writer::articles, from<Article>() | order_by(asc(col(&Article::id))))
                                  .then(preload(&Article::comments, from<Comment>() | order_by(asc(col(&Comment::rank)))),
                                        &Article::tags, &Article::writer));
        CHECK(n.statements == 4);  // articles, comments, tags, writers: 1 + levels, never one per row
    }
    for (std::size_t k = 0; k < writers.size(); ++k) {
        REQUIRE(writers[k].articles.size() == k + 1);
        for (std::size_t j = 0; j < writers[k].articles.size(); ++j) {
            const Article& a = writers[k].articles[j];
            CHECK(a.title == "a" + std::to_string(k) + std::to_string(j));
            // j + 2 comments, the last soft-deleted: j + 1 seen, in rank order.
            REQUIRE(a.comments.size() == j + 1);
            for (std::size_t c = 0; c < a.comments.size(); ++c) CHECK(a.comments[c].rank == static_cast<int>(c));
            REQUIRE(a.tags.size() == 2);
            REQUIRE(a.writer);
            CHECK(a.writer->id == writers[k].id);
        }
    }
    // Preloading again replaces what was there; an empty list runs nothing.
    repo.preload(writers, &Writer::articles);
    CHECK(writers[2].articles.size() == 3);
    CHECK(writers[2].articles[0].comments.empty());
    std::vector<Writer> none;
    Counter n(repo);
    repo.preload(none, &Writer::articles);
    CHECK(n.statements == 0);
}

inline void top_n_per_owner(Repo& repo) {
    populate(repo);
    auto articles = repo.all(from<Article>() | where(is_not_null(col(&Article::writer_id))) | order_by(asc(col(&Article::id))));
    // The two highest-ranked live comments of each article, highest first; and the top one alone.
    repo.preload(articles, preload(&Article::comments, from<Comment>() | order_by(desc(col(&Comment::rank)))).limit(2),
                 preload(&Article::top_comment, from<Comment>() | order_by(desc(col(&Comment::rank)))));
    for (const Article& a : articles) {
        const std::size_t live = repo.count(from<Comment>() | where(col(&Comment::article_id) == a.id));
        REQUIRE(a.comments.size() == std::min<std::size_t>(2, live));
        CHECK(a.comments[0].rank == static_cast<int>(live) - 1);
        if (a.comments.size() == 2) CHECK(a.comments[1].rank == static_cast<int>(live) - 2);
        REQUIRE(a.top_comment);
        CHECK(a.top_comment->rank == static_cast<int>(live) - 1);
    }
    // limit(0): nothing, in one query all the same.
    repo.preload(articles, preload(&Article::comments).limit(0));
    for (const Article& a : articles) CHECK(a.comments.empty());
}

inline void belongs_to_with_null_keys_and_single_rows(Repo& repo) {
    World w = populate(repo);
    Article orphan = *repo.get<Article>(w.orphan_article);
    repo.preload(orphan, &Article::writer, &Article::comments);
    CHECK(!orphan.writer);
    CHECK(orphan.comments.empty());
    Writer first = *repo.get<Writer>(w.writers[0].id);
    repo.preload(first, &Writer::articles);
    CHECK(first.articles.size() == 1);
}

inline void composite_keys(Repo& repo) {
    repo.insert(Shelf{1, 1, "1/1", {}});
    repo.insert(Shelf{1, 2, "1/2", {}});
    repo.insert(Shelf{2, 1, "2/1", {}});
    for (auto [store, shelf, title] : {std::tuple{1, 1, "x"}, std::tuple{1, 1, "y"}, std::tuple{1, 2, "z"}, std::tuple{2, 1, "w"}})
        repo.insert(Book{0, store, shelf, title, {}});
    auto shelves = repo.all(from<Shelf>() | order_by(asc(col(&Shelf::store)), asc(col(&Shelf::number))));
    repo.preload(shelves, preload(&Shelf::books, from<Book>() | order_by(asc(col(&Book::title)))).then(&Book::on));
    REQUIRE(shelves.size() == 3);
    REQUIRE(shelves[0].books.size() == 2);
    CHECK(shelves[0].books[0].title == "x");
    CHECK(shelves[0].books[1].title == "y");
    REQUIRE(shelves[1].books.size() == 1);
    CHECK(shelves[1].books[0].title == "z");
    REQUIRE(shelves[2].books.size() == 1);
    CHECK(shelves[2].books[0].title == "w");
    REQUIRE(shelves[2].books[0].on);
    CHECK(shelves[2].books[0].on->label == "2/1");
    // Top N per owner on a composite key, and a query through it.
    repo.preload(shelves, preload(&Shelf::books, from<Book>() | order_by(desc(col(&Book::title)))).limit(1));
    CHECK(shelves[0].books.size() == 1);
    CHECK(shelves[0].books[0].title == "y");
    CHECK(repo.count(assoc(shelves[0], &Shelf::books)) == 2);
    CHECK(repo.count(from<Shelf>() | join_assoc(&Shelf::books) | where(col(&Book::title) == "z")) == 1);
}

inline void queries_and_joins_through_associations(Repo& repo) {
    World w = populate(repo);
    const Writer& busiest = w.writers[2];
    CHECK(repo.count(assoc(busiest, &Writer::articles)) == 3);
    auto titles = repo.all(assoc(busiest, &Writer::articles) | order_by(desc(col(&Article::id))) | select(col(&Article::title)));
    CHECK(titles == std::vector<std::string>{"a22", "a21", "a20"});
    Article a = repo.all(assoc(busiest, &Writer::articles) | order_by(asc(col(&Article::id))))[0];
    CHECK(repo.one(assoc(a, &Article::writer)).id == busiest.id);
    CHECK(repo.count(assoc(a, &Article::tags)) == 2);
    CHECK(repo.count(assoc(a, &Article::comments)) == 1);  // soft-deleted comments are left out
    // Joins on associations: writers with a tag t3 (only the busiest writer's third article).
    auto q = from<Writer>() | join_assoc(&Writer::articles) | join_assoc(&Article::tags) | where(col(&Tag::name) == "t3") |
             select(col(&Writer::name));
    CHECK(repo.all(q) == std::vector<std::string>{"writer2"});
    // Left join keeps writers without a match; soft-deleted comments are out of the join.
    CHECK(repo.count(from<Article>() | left_join_assoc(&Article::comments)) == 11);  // 10 live comments + the orphan
    CHECK(repo.to_sql(from<Article>() | join_assoc(&Article::comments)).sql.find(R"("comments"."deleted_at" IS NULL)") !=
          std::string::npos);
}

// assoc_constraint / no_assoc_constraint on both databases (SQLite names no foreign key: the
// Repo asks the database which one failed); insert_or_get returns the row already there.
inline void association_constraints_and_insert_or_get(Repo& repo) {
    World w = populate(repo);
    auto orphan = repo.insert(change(Article{0, 424242, "dangling", {}, {}, {}, {}}) | assoc_constraint(&Article::writer));
    CHECK(orphan.changeset().error_map() == ErrorMap{{"writer_id", {"does not exist"}}});
    CHECK(orphan.errors()[0].validation == "assoc");
    auto busy = repo.remove(change(w.writers[1]) | no_assoc_constraint(&Writer::articles));
    CHECK(busy.changeset().error_map() == ErrorMap{{"articles", {"are still associated with this entry"}}});
    CHECK(repo.get<Writer>(w.writers[1].id).has_value());
    // Without the declaration it stays a ConstraintError.
    CHECK_THROWS_AS(repo.remove(change(w.writers[1])), ConstraintError);
    Writer idle = repo.insert(Writer{0, "idle", {}});
    CHECK(repo.remove(change(idle) | no_assoc_constraint(&Writer::articles)).ok());

    // Soft-deleted children still hold their foreign key (SQLite: found by asking).
    Article kept = repo.all(assoc(w.writers[0], &Writer::articles))[0];
    for (const Comment& c : repo.all(assoc(kept, &Article::comments))) repo.remove(c);
    auto held = repo.remove(change(kept) | no_assoc_constraint(&Article::comments));
    CHECK(held.changeset().error_map() == ErrorMap{{"comments", {"are still associated with this entry"}}});
    // A composite belongs_to.
    auto nowhere = repo.insert(change(Book{0, 9, 9, "t", {}}) | assoc_constraint(&Book::on));
    CHECK(nowhere.changeset().error_map() == ErrorMap{{"store", {"does not exist"}}});
    // ... and an update that points a stored row at a missing parent: the new key is asked
    // about, not the one the row had.
    repo.insert(Shelf{5, 5, "placed", {}});
    const Book placed = repo.insert(Book{0, 5, 5, "placed", {}});
    auto moved = repo.update(change(placed).put_change(&Book::store, std::int64_t{9}).put_change(&Book::shelf, std::int64_t{9}) |
                             assoc_constraint(&Book::on));
    CHECK(moved.changeset().error_map() == ErrorMap{{"store", {"does not exist"}}});
    CHECK(repo.get<Book>(placed.id)->store == placed.store);

    Shelf first = repo.insert_or_get(Shelf{7, 1, "first", {}}, &Shelf::store, &Shelf::number);
    CHECK(first.label == "first");
    Shelf again = repo.insert_or_get(Shelf{7, 1, "second", {}}, &Shelf::store, &Shelf::number);
    CHECK(again.label == "first");  // the stored row, untouched
    CHECK(repo.count(from<Shelf>() | where(col(&Shelf::store) == 7)) == 1);
}

// A writer's form with nested articles (cast_assoc), each validated by its own changeset.
inline Changeset<Article> article_changeset(Article data, const Params& params) {
    return cast(std::move(data), params, &Article::title) | validate_required(&Article::title) |
           validate_length(&Article::title, {.max = 20});
}
inline Changeset<Writer> writer_form(Writer data, Params params) {
    return cast(std::move(data), std::move(params), &Writer::name) | validate_required(&Writer::name) |
           cast_assoc(&Writer::articles, article_changeset);
}

inline void nested_changesets(Repo& repo) {
    // JSON: the owner and its rows in one transaction, foreign keys set.
    auto saved = repo.insert(writer_form(Writer{}, params_from_json(nlohmann::json::parse(
                                                       R"({"name": "Ann", "articles": [{"title": "one"}, {"title": "two"}]})"))));
    REQUIRE(saved.ok());
    REQUIRE(saved->articles.size() == 2);
    CHECK(saved->articles[1].title == "two");
    CHECK(saved->articles[1].writer_id == saved->id);
    CHECK(repo.count(assoc(*saved, &Writer::articles)) == 2);

    // A form's fields: articles[0][title], ...; a row's validation error is the owner's, by path.
    Params form{{"name", Param::text("Bob")}, {"articles[0][title]", Param::text("fine")}, {"articles[1][title]", Param::text("")}};
    auto bad = writer_form(Writer{}, form);
    CHECK(bad.error_map() == ErrorMap{{"articles[1].title", {"can't be blank"}}});
    CHECK(errors_json(bad) == nlohmann::json::parse(R"({"articles": [{}, {"title": ["can't be blank"]}]})"));
    CHECK(!repo.insert(bad).ok());
    CHECK(repo.count(from<Writer>() | where(col(&Writer::name) == "Bob")) == 0);

    // A row the database refuses rolls back the owner too.
    auto refusing = [](Article data, const Params& p) {
        return article_changeset(std::move(data), p) | check_constraint(&Article::title, "never_matches");
    };
    Params two{{"name", Param::text("Cid")}, {"articles[0][title]", Param::text("ok")}};
    auto cid = repo.insert(cast(Writer{}, two, &Writer::name) | cast_assoc(&Writer::articles, refusing));
    REQUIRE(cid.ok());
    repo.session().connection().execute("CREATE UNIQUE INDEX articles_title_index ON articles (title)");
    auto dup = repo.insert(cast(Writer{}, Params{{"name", Param::text("Dee")}, {"articles[0][title]", Param::text("ok")}}, &Writer::name) |
                           cast_assoc(&Writer::articles, [](Article data, const Params& p) {
                               return article_changeset(std::move(data), p) | unique_constraint(&Article::title);
                           }));
    CHECK(dup.changeset().error_map() == ErrorMap{{"articles[0].title", {"has already been taken"}}});
    CHECK(repo.count(from<Writer>() | where(col(&Writer::name) == "Dee")) == 0);

    // An update whose only changes are nested rows, one of them invalid: refused with the row's
    // error, nothing written (the owner's own columns are unchanged).
    const auto articles_before = repo.count(from<Article>());
    auto blank = repo.update(writer_form(*saved, params_from_json(nlohmann::json::parse(R"({"articles": [{"title": ""}]})"))));
    CHECK_FALSE(blank.ok());
    CHECK(blank.changeset().error_map() == ErrorMap{{"articles[0].title", {"can't be blank"}}});
    CHECK(repo.count(from<Article>()) == articles_before);

    // Update: a row naming a stored row's id updates it; others are new.
    Writer ann = *saved;
    auto edit = writer_form(ann, params_from_json(nlohmann::json::parse(
                                     "{\"articles\": [{\"id\": " + std::to_string(ann.articles[0].id) +
                                     R"(, "title": "one, edited"}, {"title": "three"}]})")));
    auto updated = repo.update(edit);
    REQUIRE(updated.ok());
    auto titles = repo.all(assoc(ann, &Writer::articles) | order_by(asc(col(&Article::id))) | select(col(&Article::title)));
    CHECK(titles == std::vector<std::string>{"one, edited", "two", "three"});

    // put_assoc: structs written with the owner.
    auto put = repo.insert(change(Writer{0, "Eve", {}}) |
                           put_assoc(&Writer::articles, std::vector<Article>{Article{0, std::nullopt, "e1", {}, {}, {}, {}}}));
    REQUIRE(put.ok());
    CHECK(repo.one(assoc(*put, &Writer::articles)).title == "e1");
    // Form rows nest: articles[0][comments][0][body] reaches the article's own cast_assoc.
    auto deep = cast(Writer{}, Params{{"name", Param::text("G")}, {"articles[0][title]", Param::text("t")},
                                      {"articles[0][comments][0][body]", Param::text("")}},
                     &Writer::name) |
                cast_assoc(&Writer::articles, [](Article data, const Params& p) {
                    return article_changeset(std::move(data), p) |
                           cast_assoc(&Article::comments, [](Comment c, const Params& cp) {
                               return cast(std::move(c), cp, &Comment::body) | validate_required(&Comment::body);
                           }, "comments");
                });
    CHECK(deep.error_map() == ErrorMap{{"articles[0].comments[0].body", {"can't be blank"}}});
    // Malformed row indices are a cast error, not a silent merge.
    auto zeros = writer_form(Writer{}, Params{{"name", Param::text("H")}, {"articles[01][title]", Param::text("x")}});
    CHECK(zeros.error_map() == ErrorMap{{"articles", {"is invalid"}}});
    // Not a list where rows were expected: a cast error.
    auto scalar = writer_form(Writer{}, Params{{"name", Param::text("F")}, {"articles", Param::text("oops")}});
    CHECK(scalar.error_map() == ErrorMap{{"articles", {"is invalid"}}});
}

// Review regressions: limit_per under UPDATE/DELETE and in a union, soft-deleted rows of a
// RIGHT-joined table, assoc() through a NULL foreign key, limit_per's output order.
inline void limit_per_and_scopes_in_every_position(Repo& repo) {
    World w = populate(repo);
    auto per = from<Comment>() | order_by(asc(col(&Comment::rank))) | limit_per(1, col(&Comment::article_id));
    const std::int64_t firsts = repo.count(per);
    CHECK(firsts == 6);
    CHECK(repo.hard_delete_all(per) == 6);
    CHECK(repo.count(from<Comment>() | with_deleted()) == 10 - 6 + 6);  // 16 written, 6 first-ranked gone
    CHECK(repo.count(from<Comment>() | where(col(&Comment::rank) == 0) | union_all(per)) == repo.count(per));
    auto ordered = repo.all(from<Comment>() | order_by(desc(col(&Comment::rank))) | limit_per(2, col(&Comment::article_id)));
    for (std::size_t k = 1; k < ordered.size(); ++k) {
        const bool same = ordered[k].article_id == ordered[k - 1].article_id;
        CHECK((ordered[k].article_id >= ordered[k - 1].article_id));
        if (same) CHECK(ordered[k].rank < ordered[k - 1].rank);
    }
    // A soft-deleted comment stays out of a RIGHT JOIN that keeps comments.
    const std::int64_t live = repo.count(from<Comment>());
    CHECK(repo.count(from<Article>() | right_join<Comment>(col(&Comment::article_id) == col(&Article::id))) == live);
    Article orphan = *repo.get<Article>(w.orphan_article);
    CHECK(repo.all(assoc(orphan, &Article::writer)).empty());
}

}  // namespace assoc_checks

// many_to_many with a composite key on one side: readers and the shelves they use.
struct Reader;
struct ShelfReader {
    std::int64_t reader_id = 0;
    std::int64_t store = 0;
    std::int64_t number = 0;
};
struct Reader {
    std::int64_t id = 0;
    std::string name{};
    std::vector<Shelf> shelves{};
};
BOOST_HANA_ADAPT_STRUCT(ShelfReader, reader_id, store, number);
BOOST_HANA_ADAPT_STRUCT(Reader, id, name);
QUARRY_TABLE(ShelfReader, "shelf_readers", &ShelfReader::reader_id, &ShelfReader::store, &ShelfReader::number);
QUARRY_TABLE(Reader, "readers", &Reader::id);
QUARRY_ASSOCIATIONS(Reader, quarry::many_to_many(&Reader::shelves, &ShelfReader::reader_id,
                                                 std::tuple{&ShelfReader::store, &ShelfReader::number}));

inline constexpr const char* reader_schema =
    "CREATE TABLE readers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    "CREATE TABLE shelf_readers (reader_id INTEGER NOT NULL, store INTEGER NOT NULL, number INTEGER NOT NULL, "
    "PRIMARY KEY (reader_id, store, number));";
inline constexpr const char* reader_schema_postgres =
    "CREATE TABLE readers (id bigserial PRIMARY KEY, name text NOT NULL);"
    "CREATE TABLE shelf_readers (reader_id bigint NOT NULL, store bigint NOT NULL, number bigint NOT NULL, "
    "PRIMARY KEY (reader_id, store, number));";

namespace assoc_checks {
inline void many_to_many_composite(quarry::Repo& repo) {
    using namespace quarry;
    repo.insert(Shelf{1, 1, "1/1", {}});
    repo.insert(Shelf{1, 2, "1/2", {}});
    repo.insert(Shelf{2, 1, "2/1", {}});
    Reader r = repo.insert(Reader{0, "r", {}});
    Reader s = repo.insert(Reader{0, "s", {}});
    repo.insert(ShelfReader{r.id, 1, 2});
    repo.insert(ShelfReader{r.id, 2, 1});
    repo.insert(ShelfReader{s.id, 1, 1});
    std::vector<Reader> readers{r, s};
    repo.preload(readers, preload(&Reader::shelves, from<Shelf>() | order_by(asc(col(&Shelf::label)))));
    REQUIRE(readers[0].shelves.size() == 2);
    CHECK(readers[0].shelves[0].label == "1/2");
    CHECK(readers[0].shelves[1].label == "2/1");
    REQUIRE(readers[1].shelves.size() == 1);
    CHECK(readers[1].shelves[0].label == "1/1");
    CHECK(repo.count(assoc(r, &Reader::shelves)) == 2);
    CHECK(repo.count(from<Reader>() | join_assoc(&Reader::shelves) | where(col(&Shelf::label) == "1/1")) == 1);
}
}  // namespace assoc_checks
