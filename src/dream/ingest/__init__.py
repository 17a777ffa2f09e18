"""The ingest api: accepts snapshots over HTTP and hands them to the pipeline."""
