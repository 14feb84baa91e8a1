"""The runtime's command line: `run`, `runs`, `models`, governance, `serve`, `predict`,
`monitor`."""
