"""Database URL resolution and the SQLite connection settings."""

from __future__ import annotations

from sqlalchemy import text

from storage import database_url, make_engine


def test_url_order_is_argument_then_env_then_data_dir(tmp_path, monkeypatch):
    assert database_url() == f"sqlite:///{tmp_path / 'data' / 'stories.db'}"
    monkeypatch.setenv("CNTRL_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert database_url() == "postgresql+psycopg://u@h/db"
    assert database_url("sqlite:////x/y.db") == "sqlite:////x/y.db"


def test_default_engine_is_a_wal_sqlite_file_in_the_data_dir(tmp_path):
    engine = make_engine()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.commit()
    engine.dispose()
    assert (tmp_path / "data" / "stories.db").exists()
