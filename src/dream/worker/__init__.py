"""The worker: takes batches from a pipeline source, parses them and writes them to PostgreSQL."""
