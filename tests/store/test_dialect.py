"""SQLite's statements as PostgreSQL reads them: what the translation changes, and what it
must leave alone (text in quotes, casts, aggregates)."""

import pytest

from dialerd.store.dialect import Sql, text_for, to_postgresql


def test_positional_placeholders_are_numbered_in_order():
    statement = to_postgresql("UPDATE leads SET due_at = ?, updated_at = ? WHERE id = ?")
    assert statement.text == "UPDATE leads SET due_at = $1, updated_at = $2 WHERE id = $3"
    assert statement.args((1.5, 2.5, 7)) == [1.5, 2.5, 7]


def test_a_name_used_twice_is_one_parameter():
    statement = to_postgresql("SELECT :a WHERE x >= :window AND y >= :a")
    assert statement.text == "SELECT $1 WHERE x >= $2 AND y >= $1"
    assert statement.args({"window": 10, "a": 1, "unused": 3}) == [1, 10]


def test_quoted_text_and_casts_are_left_alone():
    statement = to_postgresql(
        "SELECT '10:00 ? :x', \"odd?name\", CAST(? AS BIGINT), ?::json WHERE a = 'it''s ?'"
    )
    assert statement.text == (
        "SELECT '10:00 ? :x', \"odd?name\", CAST($1 AS BIGINT), $2::json WHERE a = 'it''s ?'"
    )


def test_sqlite_only_words_become_postgresql_s():
    statement = to_postgresql(
        "SELECT id FROM leads INDEXED BY leads_pick WHERE campaign IN"
        " (SELECT value FROM json_each(:campaigns)) AND rank = 1 + MIN(attempts, 4)"
        " AND reached = MAX(reached, :r) AND due_at = (SELECT MAX(due_at) FROM leads)"
    )
    assert statement.text == (
        "SELECT id FROM leads WHERE campaign IN"
        " (SELECT value FROM json_array_elements_text($1::json)) AND rank = 1 + LEAST(attempts, 4)"
        " AND reached = GREATEST(reached, $2) AND due_at = (SELECT MAX(due_at) FROM leads)"
    )


def test_the_user_column_is_quoted_and_a_user_parameter_is_not():
    statement = to_postgresql("SELECT user, role FROM console_sessions WHERE user = :user")
    assert statement.text == 'SELECT "user", role FROM console_sessions WHERE "user" = $1'
    assert to_postgresql("SELECT s.user_id, 'user', s.user FROM s").text == (
        "SELECT s.user_id, 'user', s.\"user\" FROM s"
    )


def test_insert_or_ignore_is_on_conflict_do_nothing():
    statement = to_postgresql("INSERT OR IGNORE INTO dnc (pattern) VALUES (?)")
    assert statement.text == "INSERT INTO dnc (pattern) VALUES ($1) ON CONFLICT DO NOTHING"


def test_mixed_placeholders_and_the_wrong_kind_of_values_are_refused():
    with pytest.raises(ValueError, match="mixes"):
        to_postgresql("SELECT ? , :a")
    with pytest.raises(TypeError):
        to_postgresql("SELECT ?").args({"a": 1})
    with pytest.raises(TypeError):
        to_postgresql("SELECT :a").args([1])


def test_a_statement_written_twice_gives_each_engine_its_own():
    pair = Sql(sqlite="SELECT SUM(a = 1)", postgresql="SELECT COUNT(*) FILTER (WHERE a = 1)")
    assert text_for(pair, "sqlite") == "SELECT SUM(a = 1)"
    assert text_for(pair, "postgresql") == "SELECT COUNT(*) FILTER (WHERE a = 1)"
    assert text_for("SELECT 1", "postgresql") == "SELECT 1"


def test_sqlite_s_functions_and_temp_tables_in_postgresql_s_words():
    statement = to_postgresql(
        "SELECT CAST(received_at / 900 AS INTEGER) AS bucket,"
        " group_concat(first_attempt_at - IFNULL((SELECT MIN(c.opens, 5) FROM temp.closed c), 0)),"
        " CAST(x AS TEXT), SUM(a = 1) FROM leads"
    )
    assert statement.text == (
        "SELECT trunc(received_at / 900)::bigint AS bucket,"
        " string_agg(CAST(first_attempt_at - COALESCE((SELECT LEAST(c.opens, 5)"
        " FROM pg_temp.closed c), 0) AS TEXT), ','),"
        " CAST(x AS TEXT), SUM(a = 1) FROM leads"
    )
