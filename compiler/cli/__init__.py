"""The compiler's command line: `lint`, `rules`, `compile`, `graph`, `explain`, `diff`, `schema`."""
