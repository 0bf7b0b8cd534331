"""The ledger of decisions and the outbox of reports, in SQLite or PostgreSQL.

sql.py opens the store (migrating it to head) and serves the reads; the hot writes of
every evaluation (claim before Plaid, complete after) go through sqlite.py's writer
thread or postgres.py's pool; outbox.py and purge.py are the report queue and retention.
"""
