"""The write side of PostgreSQL: the pool, migrations, monthly partitions of ``processes`` and
their retention, the idempotent snapshot writer and the usage rollups it keeps in the same
transaction. Analytics only reads what this package writes. Named SQL: the ``.sql`` files here."""
