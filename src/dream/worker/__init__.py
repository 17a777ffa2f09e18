"""The worker: takes batches from a transport source, parses them and writes them to PostgreSQL."""
