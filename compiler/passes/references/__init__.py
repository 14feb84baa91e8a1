"""Passes that index the specs and resolve every name between them (and find cycles
in what they resolved); every later pass reads what these recorded in the Context."""
