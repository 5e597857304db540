"""The segment rule language: parse and validate (spec), compile to SQL (sql), schedule re-checks (timing)."""
