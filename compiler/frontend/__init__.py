"""The front end: find a project's files, load YAML with positions, render templates, and
validate every document against its kind."""
